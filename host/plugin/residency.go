package plugin

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/agent-vault/agent-vault/host/domain"
)

// A plugin's compiled code and instances are the largest thing the server
// holds: for a Go guest, native code about four times the module's size,
// the decoded module, and each instance's memory. Most kinds are called
// rarely (the built-in store only on credential writes), so a plugin keeps
// them only while it is used. Load compiles at once to validate; Register
// defers compiling to the first call. With Config.IdleRelease set, the
// pool's instances and the compiled module are closed once no call has run
// for that long, and the next call compiles again from the on-disk cache
// (a warm load: tens to a few hundred milliseconds).
//
// p.mu guards compiled, pool, active and idleTimer. A call holds the
// plugin resident from acquire to done, so a release never closes an
// instance in use.

// acquire makes the plugin resident (compiling it when it is not) and
// counts a call in; done counts it out. It returns the pool of the current
// compilation.
func (p *Plugin) acquire(ctx context.Context) (*pool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.compiled == nil {
		if p.closed {
			return nil, loadErr(p.name(), domain.CodePluginNotFound, "the plugin runtime is shut down")
		}
		compiled, err := p.rt.compile(ctx, p.name(), p.wasm, p.manifest.Features)
		if err != nil {
			return nil, err
		}
		p.compiled, p.pool = compiled, p.newPool(compiled)
		p.rt.cfg.Logger.Debug("store plugin compiled", "plugin", p.name())
		// Compiling (even from the cache) leaves about as much garbage as
		// the compiled module holds, and the heap's next GC goal is twice
		// the size it peaked at: collect now, off the caller's path, so the
		// process does not carry tens of MiB until the heap next grows.
		go debug.FreeOSMemory()
	}
	p.active++
	if p.idleTimer != nil {
		p.idleTimer.Stop()
	}
	return p.pool, nil
}

func (p *Plugin) done() {
	p.mu.Lock()
	p.active--
	p.armIdleRelease()
	p.mu.Unlock()
}

// newPool is a pool whose instances come from compiled.
func (p *Plugin) newPool(compiled wazero.CompiledModule) *pool {
	return newPool(p.rt.cfg.MaxInstances, func(ctx context.Context) (*instance, error) {
		return p.newInstance(ctx, compiled)
	})
}

// armIdleRelease starts the idle countdown when the last call is out.
// Callers hold p.mu.
func (p *Plugin) armIdleRelease() {
	idle := p.rt.cfg.IdleRelease
	if idle <= 0 || p.active > 0 || p.compiled == nil {
		return
	}
	if p.idleTimer == nil {
		p.idleTimer = time.AfterFunc(idle, p.releaseIfIdle)
		return
	}
	p.idleTimer.Reset(idle)
}

// releaseIfIdle closes the instances and the compiled module unless a call
// came in since the countdown started.
func (p *Plugin) releaseIfIdle() {
	p.mu.Lock()
	if p.active > 0 || p.compiled == nil {
		p.mu.Unlock()
		return
	}
	p.releaseLocked(context.Background())
	p.mu.Unlock()
	p.rt.cfg.Logger.Debug("store plugin released after being idle", "plugin", p.name(), "idle", p.rt.cfg.IdleRelease)
	// The native code is unmapped by a finalizer and the decoded module is
	// garbage: collect now and hand the memory back to the OS, rather than
	// hold tens of MiB until the heap next grows.
	debug.FreeOSMemory()
}

// releaseLocked closes what the plugin holds. Callers hold p.mu and know no
// call is in flight (or are shutting down).
func (p *Plugin) releaseLocked(ctx context.Context) {
	if p.compiled == nil {
		return
	}
	p.pool.close(ctx)
	p.compiled.Close(ctx)
	p.compiled, p.pool = nil, nil
}

// Warm compiles the plugin now if it is not resident, as a call would;
// the server runs it in the background for configured kinds. The idle
// release applies afterwards as after any call.
func (p *Plugin) Warm(ctx context.Context) error {
	if _, err := p.acquire(ctx); err != nil {
		p.rt.cfg.Logger.Warn("store plugin failed to compile in the background; its calls will report why", "plugin", p.name(), "error", err)
		return err
	}
	p.done()
	return nil
}

// Resident reports whether the plugin is compiled now.
func (p *Plugin) Resident() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.compiled != nil
}

// close releases the plugin for good (Runtime.Close).
func (p *Plugin) close(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.idleTimer != nil {
		p.idleTimer.Stop()
	}
	p.releaseLocked(ctx)
}
