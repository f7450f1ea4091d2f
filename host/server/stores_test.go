package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// runOnce starts the server on dir with env, waits until it serves, stops
// it and returns its log.
func runOnce(t *testing.T, dir string, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedWriter{w: &bytes.Buffer{}}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Host: "127.0.0.1", Port: 0, MITMPort: 0, DataDir: dir,
			Getenv: func(k string) string { return env[k] },
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
			Ready:  func(string, string) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("server did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	return logs.w.(*bytes.Buffer).String()
}

// A shipped external kind whose settings are absent is never compiled,
// not even on a first start (its manifest comes from the build's record);
// a configured kind is registered (and compiles in the background);
// configuring a kind makes it available.
func TestUnconfiguredKindsAreNotLoaded(t *testing.T) {
	dir := t.TempDir()
	skipped := `msg="store plugin not loaded: its kind is not configured" plugin=infisical`
	for _, start := range []string{"first", "second"} {
		logs := runOnce(t, dir, nil)
		if !strings.Contains(logs, skipped) || strings.Contains(logs, `msg="store plugin loaded"`) {
			t.Fatalf("%s start must compile nothing and skip the unconfigured kind:\n%s", start, logs)
		}
		if !strings.Contains(logs, `msg="store plugin registered; it compiles on first use" plugin=builtin`) {
			t.Fatalf("the built-in store must always be registered:\n%s", logs)
		}
	}
	third := runOnce(t, dir, map[string]string{"INFISICAL_URL": "http://127.0.0.1:1", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "id", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s"})
	if strings.Contains(third, skipped) || !strings.Contains(third, `kinds=builtin,infisical`) ||
		!strings.Contains(third, `msg="store plugin registered; it compiles on first use" plugin=infisical`) {
		t.Fatalf("a configured kind must be registered:\n%s", third)
	}
}
