package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	built := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>UI</title>")},
		"assets/index-abc.js":  {Data: []byte("console.log(1)")},
		"assets/index-abc.css": {Data: []byte("body{}")},
		"favicon.svg":          {Data: []byte("<svg/>")},
		"README.md":            {Data: []byte("placeholder")},
	}
	tests := []struct {
		name      string
		fs        fstest.MapFS
		method    string
		path      string
		wantCode  int
		wantCache string
		wantType  string
		wantBody  string
	}{
		{"root-serves-index", built, "GET", "/", 200, "no-cache", "text/html; charset=utf-8", "<title>UI</title>"},
		{"client-route-falls-back", built, "GET", "/vaults/prod/credentials", 200, "no-cache", "text/html; charset=utf-8", "<title>UI</title>"},
		{"index-by-name", built, "GET", "/index.html", 200, "no-cache", "text/html; charset=utf-8", "<title>UI</title>"},
		{"hashed-js-cached-long", built, "GET", "/assets/index-abc.js", 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8", "console.log(1)"},
		{"hashed-css-cached-long", built, "GET", "/assets/index-abc.css", 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8", "body{}"},
		{"missing-asset-404", built, "GET", "/assets/gone-123.js", 404, "", "text/plain; charset=utf-8", "404 page not found"},
		{"asset-dir-404", built, "GET", "/assets/", 404, "", "text/plain; charset=utf-8", "404 page not found"},
		{"root-file", built, "GET", "/favicon.svg", 200, "no-cache", "image/svg+xml", "<svg/>"},
		{"missing-file-404", built, "GET", "/robots.txt", 404, "", "text/plain; charset=utf-8", "404 page not found"},
		{"placeholder-hidden", built, "GET", "/README.md", 404, "", "text/plain; charset=utf-8", "404 page not found"},
		{"dotdot-stays-inside", built, "GET", "/assets/../../etc/passwd", 200, "no-cache", "text/html; charset=utf-8", "<title>UI</title>"},
		{"post-refused", built, "POST", "/", 405, "", "text/plain; charset=utf-8", "method not allowed"},
		{"not-built", fstest.MapFS{"README.md": {Data: []byte("x")}}, "GET", "/", 503, "no-cache", "text/html; charset=utf-8", "built without the browser UI"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newHandler(tc.fs).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantCode)
			}
			h := rec.Header()
			if got := h.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCache)
			}
			if got := h.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			if got := h.Get("Content-Security-Policy"); got != csp {
				t.Errorf("CSP %q, want %q", got, csp)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tc.wantBody)
			}
		})
	}
}

// The CSP must keep the UI free of inline script and third-party origins.
func TestCSPIsStrict(t *testing.T) {
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP allows %s: %s", bad, csp)
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %s: %s", want, csp)
		}
	}
}

// The embedded build, when present, references only files it contains.
func TestEmbeddedIndexAssetsExist(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code == http.StatusServiceUnavailable {
		t.Skip("UI not built (run `make web`); the placeholder page is served")
	}
	body := rec.Body.String()
	for _, attr := range []string{`src="`, `href="`} {
		for rest := body; ; {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			ref := rest[:strings.IndexByte(rest, '"')]
			if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
				t.Errorf("index.html references %q, not a file of its own", ref)
				continue
			}
			r := httptest.NewRecorder()
			h.ServeHTTP(r, httptest.NewRequest("GET", ref, nil))
			if r.Code != 200 {
				t.Errorf("GET %s: %d", ref, r.Code)
			}
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("index.html has an inline script, which the CSP refuses")
	}
}

// FuzzHandlerPath feeds arbitrary request paths to the handler: it never
// panics, always sets the CSP, and answers only with a file from the
// build, the index, a 404 or a 405.
func FuzzHandlerPath(f *testing.F) {
	root := fstest.MapFS{
		"index.html":          {Data: []byte("INDEX")},
		"assets/index-abc.js": {Data: []byte("JS")},
		"README.md":           {Data: []byte("PLACEHOLDER")},
	}
	h := newHandler(root)
	for _, s := range []string{"/", "/assets/index-abc.js", "/assets/", "/../README.md", "/%2e%2e/README.md", "/vaults/a%2Fb", "//assets//index-abc.js", "/assets/../index.html", "/x.y/z", "/README.md"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Security-Policy") != csp {
			t.Fatalf("%q: no CSP", p)
		}
		body := rec.Body.String()
		switch rec.Code {
		case 200:
			if body != "INDEX" && body != "JS" {
				t.Fatalf("%q: served %q", p, body)
			}
		case 404, 301:
			if strings.Contains(body, "PLACEHOLDER") {
				t.Fatalf("%q: leaked the placeholder", p)
			}
		default:
			t.Fatalf("%q: status %d", p, rec.Code)
		}
	})
}
