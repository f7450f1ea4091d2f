package plugin

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildGoGuest compiles testdata/goguest for wasip1 (Go's build cache makes
// repeated runs quick).
func buildGoGuest(t *testing.T) []byte {
	t.Helper()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	out := filepath.Join(t.TempDir(), "goguest.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./testdata/goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go test guest: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoGuest_misbehaving checks the classification against a real Go
// guest: a Go panic, Go's out-of-memory exit, a spin and a long sleep each
// fail their call with the right class and code, and the plugin keeps
// serving.
func TestGoGuest_misbehaving(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := buildGoGuest(t)
	// The OOM case gets a generous deadline (allocating to the cap takes a
	// while on a busy machine); the spinning ones a short one.
	newRT := func(timeout time.Duration) (*testRuntime, *Plugin) {
		rt := newTestRuntime(t, func(c *Config) {
			c.CallTimeout = timeout
			c.MemoryLimitPages = 512 // 32 MiB
		})
		p, err := rt.Load(context.Background(), "goguest", wasm)
		if err != nil {
			t.Fatal(err)
		}
		return rt, p
	}
	rt, slow := newRT(time.Minute)
	_, quick := newRT(time.Second)
	ctx := context.Background()
	tests := []struct {
		do, want string
		p        *Plugin
	}{
		{do: "panic", p: slow, want: `plugin_trap|trap|plugin "goguest": export "probe": trapped: the plugin panicked`},
		{do: "oom", p: slow, want: `plugin_memory_limit|limit|plugin "goguest": export "probe": exceeded the memory limit of 512 pages (32 MiB)`},
		{do: "loop", p: quick, want: `plugin_timeout|limit|plugin "goguest": export "probe": did not return within its deadline (1s)`},
		{do: "sleep", p: quick, want: `plugin_timeout|limit|plugin "goguest": export "probe": did not return within its deadline (1s)`},
	}
	for _, tc := range tests {
		t.Run(tc.do, func(t *testing.T) {
			err := tc.p.Probe(ctx, json.RawMessage(`{"do":"`+tc.do+`"}`))
			if got := errString(err); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if err := tc.p.Probe(ctx, json.RawMessage(`{}`)); err != nil {
				t.Fatalf("host stopped serving after %s: %v", tc.do, err)
			}
		})
	}
	if !contains(rt.logs.String(), `stderr="panic: boom"`) {
		t.Errorf("the panic's first line was not logged:\n%s", rt.logs)
	}
}
