package plugin

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// waitFor polls cond until it holds or a generous deadline passes. It is
// not a timing assertion: it only bounds how long a test waits for an
// idle release that is due after a few milliseconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func syncOK(t *testing.T, p *Plugin) {
	t.Helper()
	snap, err := p.Sync(context.Background(), nil)
	if err != nil || snap["API_KEY"] != "v1" {
		t.Fatalf("Sync = %v, %v", snap, err)
	}
}

func TestIdleReleaseAndRecompile(t *testing.T) {
	rt := newTestRuntime(t, func(c *Config) { c.IdleRelease = 10 * time.Millisecond })
	p := rt.load(t, "ok/store")
	waitFor(t, "the loaded plugin is released", func() bool { return !p.Resident() })

	syncOK(t, p) // compiles again from the cache
	waitFor(t, "the plugin is released again", func() bool { return !p.Resident() })
	if !bytes.Contains([]byte(rt.logs.String()), []byte("store plugin released after being idle")) {
		t.Errorf("no release logged:\n%s", rt.logs.String())
	}
}

func TestNoIdleReleaseByDefault(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/store")
	syncOK(t, p)
	p.mu.Lock()
	timer := p.idleTimer
	p.mu.Unlock()
	if !p.Resident() || timer != nil {
		t.Fatalf("resident %v, idle timer %v: want resident with no countdown", p.Resident(), timer)
	}
}

// manifestOf loads name once in a separate runtime to learn its manifest,
// as the server's manifest cache would have remembered it.
func manifestOf(t *testing.T, name string) abi.Manifest {
	t.Helper()
	p := newTestRuntime(t, nil).load(t, name)
	return p.Manifest()
}

func TestRegisterCompilesOnFirstCall(t *testing.T) {
	man := manifestOf(t, "ok/store")
	rt := newTestRuntime(t, nil)
	p, err := rt.Register("store", guest(t, "ok/store"), man)
	if err != nil {
		t.Fatal(err)
	}
	if p.Resident() {
		t.Fatal("a registered plugin is compiled before its first call")
	}
	if got, err := rt.Plugin(man.Kind); err != nil || got != p {
		t.Fatalf("Plugin(%q) = %v, %v", man.Kind, got, err)
	}
	syncOK(t, p)
	if !p.Resident() {
		t.Fatal("not resident after a call")
	}
}

func TestRegisterRefuses(t *testing.T) {
	man := manifestOf(t, "ok/store")
	rt := newTestRuntime(t, nil)
	if _, err := rt.Register("store", guest(t, "ok/store"), man); err != nil {
		t.Fatal(err)
	}
	bad := man
	bad.Kind = "Not A Kind"
	for _, tc := range []struct {
		name string
		man  abi.Manifest
		want string
	}{
		{"invalid manifest", bad, abi.CodePluginInvalid},
		{"duplicate kind", man, abi.CodePluginInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Register("store", guest(t, "ok/store"), tc.man)
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.want {
				t.Fatalf("Register = %v, want code %s", err, tc.want)
			}
		})
	}
}

// A remembered manifest that promises an export the module lacks fails the
// first call with the same check Load applies, and keeps failing cleanly.
func TestRegisterCheckedAtFirstCompile(t *testing.T) {
	man := manifestOf(t, "ok/store")
	man.Features |= abi.FeatureCheck
	rt := newTestRuntime(t, nil)
	p, err := rt.Register("store", guest(t, "ok/store"), man)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := p.Sync(context.Background(), nil)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != abi.CodePluginInvalid || pe.Class != ClassLoad {
			t.Fatalf("call %d: %v, want a plugin_invalid load error", i, err)
		}
		if p.Resident() {
			t.Fatal("a module that failed its checks stayed compiled")
		}
	}
}

// TestReleaseHammer has goroutines calling while a 1 ms idle release keeps
// closing and recompiling the plugin underneath them: every call must
// succeed (run it under -race to check the locking too).
func TestReleaseHammer(t *testing.T) {
	P, N := 6, 25
	if testing.Short() {
		P, N = 3, 10
	}
	rt := newTestRuntime(t, func(c *Config) { c.IdleRelease = time.Millisecond; c.CallTimeout = time.Minute })
	p := rt.load(t, "ok/store")
	var wg sync.WaitGroup
	errs := make(chan error, P*N)
	for g := 0; g < P; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < N; i++ {
				if _, err := p.Sync(context.Background(), nil); err != nil {
					errs <- err
				}
				if i%5 == 0 {
					time.Sleep(3 * time.Millisecond) // let a release happen
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseReleases(t *testing.T) {
	rt := newTestRuntime(t, nil)
	p := rt.load(t, "ok/store")
	rt.Close(context.Background())
	if p.Resident() {
		t.Fatal("resident after Close")
	}
	var pe *Error
	if _, err := p.Sync(context.Background(), nil); !errors.As(err, &pe) || pe.Code != domain.CodePluginNotFound {
		t.Fatalf("call after Close = %v, want plugin_not_found", err)
	}
}
