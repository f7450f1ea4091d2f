package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/broker"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
)

// scrubVault configures vault v1 as the server would for a vault of n
// credentials: with on, the egress set of all n values (plus the test
// secrets) and the bearer service's precomputed response set; without,
// neither, and the service does not scrub.
func scrubVault(e *env, n int, on bool) {
	svcs := []domain.Service{{Name: "bearer", Host: "api.test", AllowPlainHTTP: true, Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}}}
	vc := VaultConfig{Services: svcs, UnmatchedHostPolicy: domain.PolicyPassthrough, Matcher: broker.NewMatcher(svcs)}
	if on {
		var vals []scrub.Value
		for i := range n {
			vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: "v1", Key: fmt.Sprintf("KEY_%d", i)}, Value: fmt.Sprintf("sk_live_%032x", i*7919+1)})
		}
		vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: "v1", Key: "TOKEN"}, Value: secrets["v1/TOKEN"]})
		vc.Egress = scrub.NewSet(vals)
		vc.Scrub = []*ServiceScrub{{Values: map[string]string{"TOKEN": secrets["v1/TOKEN"]},
			Set: ResponseSet("v1", &svcs[0], []string{"TOKEN"}, []string{secrets["v1/TOKEN"]}, nil)}}
	} else {
		svcs[0].ScrubResponses = off()
	}
	e.vaults.mu.Lock()
	e.vaults.m["v1"] = vc
	e.vaults.mu.Unlock()
}

// BenchmarkScrubCost measures what response scrubbing and the egress
// check cost: req/s at concurrency 16 through the proxy (plain HTTP and
// CONNECT/MITM) with both off and on, for vaults of 10 and 1,000
// credentials, against an upstream answering 1 KiB of JSON. Off and on
// run side by side in one process, so they share the machine's load.
func BenchmarkScrubCost(b *testing.B) {
	e := newEnv(b, testServices(), func(c *Config) { c.Log = NewAsyncSink(4096, func(Event) {}) })
	body := `{"data":[` + strings.Repeat(`{"id":"ch_3MmlLrLkdIwHu7ix0snN0B15","amount":1099,"currency":"usd"},`, 15) + `{}]}`
	e.mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	proxyURL := &url.URL{Scheme: "http", Host: e.addr, User: url.UserPassword("tok1", "main")}
	const conc = 16
	for _, n := range []int{10, 1000} {
		for _, scheme := range []string{"http", "https"} {
			for _, on := range []bool{false, true} {
				name := fmt.Sprintf("creds=%d/%s/scrub=%v", n, map[string]string{"http": "proxy-http", "https": "proxy-mitm"}[scheme], on)
				b.Run(name, func(b *testing.B) {
					scrubVault(e, n, on)
					tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxIdleConns: conc, DisableCompression: true,
						TLSClientConfig: &tls.Config{RootCAs: e.mitmCA.pool}, Proxy: http.ProxyURL(proxyURL)}
					defer tr.CloseIdleConnections()
					client := &http.Client{Transport: tr}
					do := func() error {
						resp, err := client.Post(scheme+"://api.test/json", "application/json", strings.NewReader(`{"q":"charges","limit":15}`))
						if err != nil {
							return err
						}
						got, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || len(got) != len(body) {
							return fmt.Errorf("status %d, %d bytes", resp.StatusCode, len(got))
						}
						return nil
					}
					if err := do(); err != nil {
						b.Fatal(err)
					}
					runLoad(b, conc, do)
				})
			}
		}
	}
}

// BenchmarkScrubDownload streams 64 MiB per op through CONNECT/MITM with
// scrubbing off and on: B/op shows the memory a scrubbed stream adds.
func BenchmarkScrubDownload(b *testing.B) {
	const size = 64 << 20
	e := newEnv(b, testServices(), func(c *Config) { c.Log = NewAsyncSink(64, func(Event) {}) })
	e.mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.CopyN(w, zeros{}, size)
	})
	c := e.client("tok1:main")
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("scrub=%v", on), func(b *testing.B) {
			scrubVault(e, 1000, on)
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
		})
	}
}
