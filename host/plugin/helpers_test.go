package plugin

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheDir is shared by every runtime in this test binary, so each guest is
// compiled once.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugin-test-cache")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guest reads a WAT test guest: the committed .wasm beside its .wat.
func guest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("test guest %s: %v (the .wasm is committed beside its .wat; `make testdata` rebuilds it with wabt's wat2wasm)", name, err)
	}
	return b
}

// logBuffer is a concurrency-safe slog sink for assertions on log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type testRuntime struct {
	*Runtime
	logs *logBuffer
}

func newTestRuntime(t testing.TB, mod func(*Config)) *testRuntime {
	t.Helper()
	logs := &logBuffer{}
	cfg := Config{
		CacheDir:         cacheDir,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Env:              func(string) string { return "" },
		CallTimeout:      2 * time.Second,
		InitTimeout:      10 * time.Second,
		MemoryLimitPages: 16,
	}
	if mod != nil {
		mod(&cfg)
	}
	rt, err := NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return &testRuntime{Runtime: rt, logs: logs}
}

func (rt *testRuntime) load(t testing.TB, name string) *Plugin {
	t.Helper()
	p, err := rt.Load(context.Background(), filepath.Base(name), guest(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// errString renders err as "code|class|message" for exact comparison.
func errString(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok {
		return e.Code + "|" + e.Class.String() + "|" + e.Error()
	}
	return "untyped|" + err.Error()
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
