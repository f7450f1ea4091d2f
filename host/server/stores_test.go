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

// A shipped external kind whose settings are absent is not compiled on
// later starts (its manifest is remembered); a configured kind is
// registered and compiles on first use; configuring a kind makes it
// available again.
func TestUnconfiguredKindsAreNotLoaded(t *testing.T) {
	dir := t.TempDir()
	skipped := `msg="store plugin not loaded: its kind is not configured" plugin=infisical`
	first := runOnce(t, dir, nil)
	if strings.Contains(first, skipped) || !strings.Contains(first, `msg="store plugin loaded" plugin=infisical`) {
		t.Fatalf("first start should load every shipped plugin:\n%s", first)
	}
	second := runOnce(t, dir, nil)
	if !strings.Contains(second, skipped) || strings.Contains(second, `msg="store plugin loaded" plugin=infisical`) {
		t.Fatalf("second start should skip the unconfigured kind:\n%s", second)
	}
	if !strings.Contains(second, `msg="store plugin registered; it compiles on first use" plugin=builtin`) {
		t.Fatalf("the built-in store must always be registered:\n%s", second)
	}
	third := runOnce(t, dir, map[string]string{"INFISICAL_URL": "http://127.0.0.1:1", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "id", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s"})
	if strings.Contains(third, skipped) || !strings.Contains(third, `kinds=builtin,infisical`) {
		t.Fatalf("a configured kind must load:\n%s", third)
	}
}
