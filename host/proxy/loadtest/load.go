package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Modes, in the order they run for each concurrency: each proxied mode
// right after its direct baseline, so the two are measured close in time
// on a shared machine.
const (
	modeDirect    = "direct"     // client -> http upstream
	modeProxyHTTP = "proxy-http" // client -> proxy (absolute-form) -> http upstream, bearer injected
	modeDirectTLS = "direct-tls" // client -> https upstream
	modeProxyMITM = "proxy-mitm" // client -> CONNECT + TLS to the proxy -> https upstream, bearer injected
)

var allModes = []string{modeDirect, modeProxyHTTP, modeDirectTLS, modeProxyMITM}

// The same proxied requests to services that opt out of response
// scrubbing (scrub_responses: false), to measure what scrubbing costs in
// one run; the egress check runs either way, as it does in production.
// Only on request (-modes).
const (
	modeProxyHTTPNoScrub = "proxy-http-noscrub"
	modeProxyMITMNoScrub = "proxy-mitm-noscrub"
)

var extraModes = []string{modeProxyHTTPNoScrub, modeProxyMITMNoScrub}

// target is what the load cells talk to.
type target struct {
	up        *upstream
	proxy     string // host:port
	session   string
	mitmCA    *x509.CertPool
	upCA      *x509.CertPool
	authHdr   string // what a direct client sends itself: the same header the proxy injects
	serverPID int
}

// cellResult is one (mode, concurrency) measurement.
type cellResult struct {
	Variant       string  `json:"variant,omitempty"` // with -variant: the server configuration
	Round         int     `json:"round,omitempty"`   // 1-based, in Rounds (0 in a median)
	Mode          string  `json:"mode"`
	Concurrency   int     `json:"concurrency"`
	Requests      int64   `json:"requests"`
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	RPS           float64 `json:"rps"`
	P50Micros     float64 `json:"p50_us"`
	P99Micros     float64 `json:"p99_us"`
	ClientConns   int64   `json:"client_conns"`   // connections the load generator opened (to the proxy or the upstream)
	UpstreamConns int64   `json:"upstream_conns"` // connections the upstream accepted during the cell
	ServerRSSKiB  int64   `json:"server_rss_kib"` // highest server VmRSS sampled during the cell (proxied cells)
	FirstError    string  `json:"first_error,omitempty"`
}

// client builds a keep-alive client for mode with room for conc idle
// connections, counting the connections it dials.
func (t *target) client(mode string, conc int, dials *atomic.Int64) (*http.Client, string, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		// Exactly conc connections at most, all kept: without the cap the
		// transport dials extra ones when all are busy and closes them
		// again when the idle pool is full, and the direct baseline would
		// pay for connection churn.
		MaxConnsPerHost:     conc,
		MaxIdleConns:        conc,
		MaxIdleConnsPerHost: conc,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	proxyURL := &url.URL{Scheme: "http", Host: t.proxy, User: url.UserPassword(t.session, vaultName)}
	switch mode {
	case modeDirect:
		return &http.Client{Transport: tr}, "http://" + t.up.plain.Addr().String() + "/tiny", nil
	case modeDirectTLS:
		tr.TLSClientConfig = &tls.Config{RootCAs: t.upCA}
		return &http.Client{Transport: tr}, "https://" + t.up.tls.Addr().String() + "/tiny", nil
	case modeProxyHTTP:
		tr.Proxy = http.ProxyURL(proxyURL)
		return &http.Client{Transport: tr}, "http://" + t.up.plain.Addr().String() + "/tiny", nil
	case modeProxyMITM:
		tr.Proxy = http.ProxyURL(proxyURL)
		tr.TLSClientConfig = &tls.Config{RootCAs: t.mitmCA}
		return &http.Client{Transport: tr}, "https://" + t.up.tls.Addr().String() + "/tiny", nil
	case modeProxyHTTPNoScrub:
		tr.Proxy = http.ProxyURL(proxyURL)
		return &http.Client{Transport: tr}, "http://" + t.up.plain.Addr().String() + noScrubPath + "tiny", nil
	case modeProxyMITMNoScrub:
		tr.Proxy = http.ProxyURL(proxyURL)
		tr.TLSClientConfig = &tls.Config{RootCAs: t.mitmCA}
		return &http.Client{Transport: tr}, "https://" + t.up.tls.Addr().String() + noScrubPath + "tiny", nil
	}
	return nil, "", fmt.Errorf("unknown mode %q", mode)
}

// Phases of a cell, read by its workers.
const (
	phaseWarm int32 = iota
	phaseMeasure
	phaseStop
)

// runCell drives mode at concurrency conc: warm-up, then a measured window
// of dur, with at most maxRequests measured requests. Only requests that
// complete inside the window count, and only they give latencies.
func (t *target) runCell(ctx context.Context, mode string, conc int, warm, dur time.Duration, maxRequests int64) (cellResult, error) {
	res := cellResult{Mode: mode, Concurrency: conc}
	var dials atomic.Int64
	client, u, err := t.client(mode, conc, &dials)
	if err != nil {
		return res, err
	}
	defer client.CloseIdleConnections()
	direct := mode == modeDirect || mode == modeDirectTLS
	do := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if direct {
			req.Header.Set("Authorization", t.authHdr)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d (%s)", resp.StatusCode, resp.Header.Get("X-Agent-Vault-Proxy-Error"))
		}
		return nil
	}
	upPlain0, upTLS0 := t.up.accepted()

	var phase atomic.Int32
	var measured, failed atomic.Int64
	var firstErr atomic.Value
	capped := make(chan struct{})
	var capOnce sync.Once
	lats := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				t0 := time.Now()
				err := do()
				el := time.Since(t0)
				if phase.Load() != phaseMeasure || p != phaseMeasure {
					// Started in the warm-up or finished after the window.
					if err != nil && p == phaseWarm {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						return
					}
					continue
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				if measured.Add(1) > maxRequests {
					capOnce.Do(func() { close(capped) })
					return
				}
				lats[w] = append(lats[w], el)
			}
		}()
	}
	sampleDone := make(chan struct{})
	var rssMax atomic.Int64
	stopSampling := make(chan struct{})
	go func() { // server RSS while loaded
		defer close(sampleDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if m, err := readProcMemory(t.serverPID); err == nil && m.RSSKiB > rssMax.Load() {
					rssMax.Store(m.RSSKiB)
				}
			}
		}
	}()
	select {
	case <-time.After(warm):
	case <-ctx.Done():
	}
	begin := time.Now()
	phase.Store(phaseMeasure)
	select {
	case <-time.After(dur):
	case <-capped: // the request cap ends the window early
	case <-ctx.Done():
	}
	phase.Store(phaseStop)
	elapsed := time.Since(begin)
	// One last sample at the end of the window, connections still open.
	if m, err := readProcMemory(t.serverPID); err == nil && m.RSSKiB > rssMax.Load() {
		rssMax.Store(m.RSSKiB)
	}
	wg.Wait()
	close(stopSampling)
	<-sampleDone

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	upPlain1, upTLS1 := t.up.accepted()
	res.Requests = int64(len(all))
	res.Errors = failed.Load()
	res.Seconds = elapsed.Seconds()
	res.RPS = float64(len(all)) / elapsed.Seconds()
	res.P50Micros, res.P99Micros = percentile(all, 50), percentile(all, 99)
	res.ClientConns = dials.Load()
	res.UpstreamConns = (upPlain1 - upPlain0) + (upTLS1 - upTLS0)
	if !direct {
		res.ServerRSSKiB = rssMax.Load()
	}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Requests == 0 && res.Errors == 0 {
		return res, errors.New("no request completed inside the window")
	}
	return res, nil
}

// percentile of sorted durations in microseconds (nearest rank); 0 when empty.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // ceil(n*p/100)
	if i > 0 {
		i--
	}
	return float64(sorted[i]) / float64(time.Microsecond)
}
