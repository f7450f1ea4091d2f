package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
)

// TestProxyHammer runs P clients at once over both schemes and several
// services, so per-request state (matched service, looked-up values, log
// events) cannot leak between concurrent requests.
func TestProxyHammer(t *testing.T) {
	P, N := 8, 40
	if testing.Short() {
		P, N = 4, 20
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(P / 2))
	e := newEnv(t, testServices())
	cases := []struct{ path, header, want string }{
		{"/v1/x", "Authorization", "Bearer sk_live_TOKENVALUE"},
		{"/apikey/x", "X-Api-Key", "Key APIKEYVALUE"},
		{"/custom/x", "X-Sig", "alice-USERVALUE:APIKEYVALUE"},
	}
	start := make(chan struct{})
	errs := make([]error, P)
	var wg sync.WaitGroup
	for g := range P {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client("tok1:main")
			<-start
			for i := range N {
				cs := cases[(g+i)%len(cases)]
				scheme := []string{"http", "https"}[(g+i)%2]
				resp, err := c.Get(scheme + "://api.test" + cs.path)
				if err != nil {
					errs[g] = err
					return
				}
				var got echo
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					b, err = unwrapEcho(b)
				}
				if err == nil {
					err = json.Unmarshal(b, &got)
				}
				if err != nil {
					errs[g] = err
					return
				}
				if v := got.Header.Get(cs.header); v != cs.want || got.Path != cs.path {
					errs[g] = fmt.Errorf("%s %s: %s = %q", scheme, cs.path, cs.header, v)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	e.log.next(t, P*N-1)
	byPath := map[string]int{}
	for _, ev := range e.log.all() {
		if ev.Status != http.StatusOK {
			t.Fatalf("event %+v", ev)
		}
		byPath[ev.Path]++
	}
	if total := byPath["/v1/x"] + byPath["/apikey/x"] + byPath["/custom/x"]; total != P*N {
		t.Fatalf("events %v, want %d in total", byPath, P*N)
	}
}
