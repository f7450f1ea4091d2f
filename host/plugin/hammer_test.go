package plugin

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// TestPoolHammer calls one plugin from P goroutines released together,
// mixing well-behaved calls with calls that trap (so the pool keeps
// replacing instances), then checks every result and the pool's state.
func TestPoolHammer(t *testing.T) {
	P, N := 8, 40
	if testing.Short() {
		P, N = 4, 20
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(P / 2))
	// A generous deadline: under -race on a busy machine, waiting for one
	// of 3 instances among P goroutines can take a while.
	rt := newTestRuntime(t, func(c *Config) { c.MaxInstances = 3; c.CallTimeout = time.Minute })
	good := rt.load(t, "ok/store")
	bad := rt.load(t, "limits/misbehave")
	ctx := context.Background()

	start := make(chan struct{})
	errs := make([][]error, P)
	var wg sync.WaitGroup
	for g := 0; g < P; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < N; i++ {
				snap, err := good.Sync(ctx, nil)
				if err != nil || snap["API_KEY"] != "v1" || len(snap) != 2 {
					errs[g] = append(errs[g], fmt.Errorf("sync %d: %v %v", i, snap, err))
				}
				if i%4 == 0 {
					err := bad.LeaseRevoke(ctx, nil, "x")
					if e, ok := err.(*Error); !ok || e.Code != abi.CodePluginTrap {
						errs[g] = append(errs[g], fmt.Errorf("trap %d: %v", i, err))
					}
				}
				if err := bad.ValidateConfig(ctx, nil); err != nil {
					errs[g] = append(errs[g], fmt.Errorf("validate %d: %v", i, err))
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	for g, es := range errs {
		for _, err := range es {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	for _, p := range []*Plugin{good, bad} {
		if busy := len(p.pool.sem); busy != 0 {
			t.Errorf("%s: %d instances still checked out", p.Kind(), busy)
		}
		if idle := len(p.pool.idle); idle < 1 || idle > 3 {
			t.Errorf("%s: %d idle instances, want 1..3", p.Kind(), idle)
		}
	}
}
