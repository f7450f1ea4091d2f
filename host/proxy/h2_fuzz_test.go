package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// h2Request builds the request the HTTP/2 server hands a handler for
// these fields, or nil when the server would refuse them (the checks of
// RFC 9113 §8.2 and §8.3 that golang.org/x/net/http2 applies).
func h2Request(method, path, fields string, body []byte) *http.Request {
	if method == "" || strings.IndexFunc(method, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
		return nil
	}
	if path == "" || path[0] != '/' {
		return nil
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil
	}
	h := http.Header{}
	for line := range strings.SplitSeq(fields, "\n") {
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		value = strings.TrimLeft(value, " ")
		if !ok || name != strings.ToLower(name) || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host":
			return nil
		case "te":
			if value != "trailers" {
				return nil
			}
		}
		h.Add(name, value)
	}
	r := &http.Request{Method: method, URL: u, RequestURI: path, Proto: "HTTP/2.0", ProtoMajor: 2, Header: h,
		Host: "api.test", ContentLength: -1, Body: http.NoBody}
	if cl := h["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 63)
		if err != nil || n != int64(len(body)) {
			return nil // the server resets a stream whose body does not match
		}
		r.ContentLength = n
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.ContentLength < 0 {
			r.ContentLength = -1
		}
	}
	return r
}

// FuzzH2ToH1 holds the translation of an HTTP/2 request into HTTP/1.1
// (checkH2Request, hop-by-hop stripping, then the request as written
// upstream) to one rule: whatever the fields, the upstream reads exactly
// one request, with the method, target, headers and body the client sent.
func FuzzH2ToH1(f *testing.F) {
	f.Add("POST", "/v1/x?q=1", "content-type: application/json\ncontent-length: 2", []byte("{}"))
	f.Add("GET", "/a%20b", "te: trailers\nx-a: 1\nx-a: 2", []byte(nil))
	f.Add("POST", "/", "content-length: 3\ncontent-length: 40", []byte("abc"))
	f.Add("PUT", "/x", "x-b: GET / HTTP/1.1", []byte("0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, method, path, fields string, body []byte) {
		r := h2Request(method, path, fields, body)
		if r == nil || checkH2Request(r) != "" {
			return
		}
		want := r.Header.Clone()
		teTrailers := httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers")
		stripHopHeaders(r.Header)
		if teTrailers {
			r.Header["Te"] = []string{"trailers"}
		}
		r.URL.Scheme, r.URL.Host, r.RequestURI = "https", "api.test", ""
		var wire bytes.Buffer
		if err := r.Write(&wire); err != nil {
			return // refused before anything was sent
		}
		br := bufio.NewReader(&wire)
		got, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("the upstream cannot read the translation: %v\n%q", err, wire.String())
		}
		gotBody, err := io.ReadAll(got.Body)
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			t.Fatalf("a second request after the first: %q", rest)
		}
		if got.Method != method || got.RequestURI != r.URL.RequestURI() || got.Host != "api.test" || !bytes.Equal(gotBody, body) {
			t.Fatalf("upstream read %s %s host %q body %q, want %s %s body %q", got.Method, got.RequestURI, got.Host, gotBody, method, r.URL.RequestURI(), body)
		}
		for name, vs := range want {
			switch name {
			case "Content-Length", "User-Agent", "Te":
				continue // framing, written by the request writer; Te checked below
			}
			if strings.Join(got.Header[name], "\n") != strings.Join(vs, "\n") {
				t.Fatalf("header %s: upstream read %q, client sent %q", name, got.Header[name], vs)
			}
		}
		if teTrailers && got.Header.Get("Te") != "trailers" {
			t.Fatalf("Te: %q", got.Header["Te"])
		}
	})
}
