package proxy

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
)

// BenchmarkProxy is the load harness (make bench-proxy): requests/s and
// p50/p99 latency at concurrency 1, 16 and 64, on loopback with a tiny
// upstream answering "ok", for
//
//	direct       client -> http upstream
//	direct-tls   client -> https upstream
//	proxy-http   client -> proxy (absolute-form) -> http upstream, bearer injected
//	proxy-mitm   client -> CONNECT/TLS to the proxy -> https upstream, bearer injected
//	proxy-mitm-h2      the same with HTTP/2 in the tunnel: every request a
//	                   stream on one client connection; HTTP/1.1 upstream
//	proxy-mitm-h2-h2   HTTP/2 on both sides: streams on one connection each
//
// All clients keep connections alive. Compare each proxied figure with the
// direct one from the same run: the load generator, the upstream and the
// proxy share the machine.
func BenchmarkProxy(b *testing.B) {
	services := append(testServices(), domain.Service{Name: "h2up", Host: "h2.api.test", Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}})
	he := newH2EnvServices(b, services, func(c *Config) {
		c.Log = NewAsyncSink(4096, func(Event) {})
		// The rate check runs on every request as in production, with
		// limits no benchmark reaches.
		c.RateLimits = RateLimits{PerActor: 1e9, PerVault: 1e9}
	})
	e := he.env
	precomputeScrub(e)
	e.mux.HandleFunc("/tiny", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	proxyURL := &url.URL{Scheme: "http", Host: e.addr, User: url.UserPassword("tok1", "main")}
	modes := []struct {
		name   string
		target string
		proxy  bool
	}{
		{"direct", "http://" + e.plain.Listener.Addr().String() + "/tiny", false},
		{"direct-tls", "https://api.test/tiny", false},
		{"proxy-http", "http://api.test/tiny", true},
		{"proxy-mitm", "https://api.test/tiny", true},
		{"proxy-mitm-h2", "https://api.test/tiny", true},
		{"proxy-mitm-h2-h2", "https://h2.api.test/tiny", true},
	}
	// Modes run side by side for each concurrency, so each proxied figure
	// is measured close in time to its direct baseline on a shared machine.
	for _, conc := range []int{1, 16, 64} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("c=%d/%s", conc, m.name), func(b *testing.B) {
				tr := &http.Transport{
					MaxIdleConnsPerHost: conc, MaxIdleConns: conc, DisableCompression: true,
					TLSClientConfig: &tls.Config{RootCAs: e.mitmCA.pool},
				}
				if m.proxy {
					tr.Proxy = http.ProxyURL(proxyURL)
					// HTTP/2 modes: one connection, multiplexed.
					tr.ForceAttemptHTTP2 = strings.HasPrefix(m.name, "proxy-mitm-h2")
				} else if m.name == "direct-tls" {
					tr.TLSClientConfig = &tls.Config{RootCAs: e.upCA.pool, ServerName: "api.test"}
					tlsAddr := e.tls.Listener.Addr().String()
					tr.DialContext = e.dial.DialContext
					e.dial.mu.Lock()
					e.dial.routes["api.test:443"] = tlsAddr
					e.dial.mu.Unlock()
				}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr}
				do := func() error {
					resp, err := client.Get(m.target)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						return fmt.Errorf("status %d", resp.StatusCode)
					}
					return nil
				}
				if err := do(); err != nil { // warm the pools and the leaf cache
					b.Fatal(err)
				}
				dialsBefore := len(e.dial.dialedAddrs())
				runLoad(b, conc, do)
				// Upstream connections are pooled: dials stay near the
				// concurrency, not the request count.
				b.ReportMetric(float64(len(e.dial.dialedAddrs())-dialsBefore), "upstream-dials")
			})
		}
	}
}

// precomputeScrub gives vault v1 what the server's vault cache gives it:
// each service's response set built once, not per request (see
// vaultcache.scrubSets), and the egress set of every value.
func precomputeScrub(e *env) {
	e.vaults.mu.Lock()
	defer e.vaults.mu.Unlock()
	vc := e.vaults.m["v1"]
	var all []scrub.Value
	for k, v := range secrets {
		vault, key, _ := strings.Cut(k, "/")
		all = append(all, scrub.Value{Owner: scrub.Owner{Vault: vault, Key: key}, Value: v})
	}
	vc.Egress = scrub.NewSet(all)
	vc.Scrub = make([]*ServiceScrub, len(vc.Services))
	for i := range vc.Services {
		svc := &vc.Services[i]
		keys := svc.Keys()
		pre := &ServiceScrub{Values: map[string]string{}}
		vals := make([]string, 0, len(keys))
		for _, k := range keys {
			if v, ok := secrets["v1/"+k]; ok {
				pre.Values[k] = v
				vals = append(vals, v)
			}
		}
		if !svc.ScrubsResponses() || len(keys) == 0 || len(vals) != len(keys) {
			continue
		}
		pre.Set = ResponseSet("v1", svc, keys, vals, vc.Canaries)
		vc.Scrub[i] = pre
	}
	e.vaults.m["v1"] = vc
}

// runLoad runs b.N calls of do on conc goroutines and reports throughput and
// latency percentiles.
func runLoad(b *testing.B, conc int, do func() error) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := do(); err != nil {
					failed.Store(err)
					return
				}
				lat[n] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op") // wall time per op is meaningless with concurrency; req/s says it
}

// BenchmarkDownload streams 64 MiB per op through CONNECT/MITM. B/op stays
// in kilobytes, which shows bodies are streamed, never buffered whole.
func BenchmarkDownload(b *testing.B) {
	const size = 64 << 20
	e := newEnv(b, testServices(), func(c *Config) { c.Log = NewAsyncSink(64, func(Event) {}) })
	precomputeScrub(e)
	e.mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.CopyN(w, zeros{}, size)
	})
	c := e.client("tok1:main")
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get("https://api.test/download")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
}

// cannedTransport answers every request in memory, so BenchmarkForward
// measures the proxy's own work per request without sockets.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" {
		return nil, fmt.Errorf("credential not injected")
	}
	return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2, Request: r}, nil
}

// BenchmarkForward is the proxy hot path alone: authenticate, match among
// the test services, inject a bearer token, forward, log.
func BenchmarkForward(b *testing.B) {
	e := newEnv(b, testServices(), func(c *Config) { c.Log = NewAsyncSink(4096, func(Event) {}) })
	precomputeScrub(e)
	e.proxy.rp.Transport = cannedTransport{}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("tok1:main"))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "http://api.test/v1/charges?limit=3", nil)
		r.Header.Set("Proxy-Authorization", auth)
		w := httptest.NewRecorder()
		e.proxy.serveOuter(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
