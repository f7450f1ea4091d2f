package proxy

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseProxyAuthorization(t *testing.T) {
	tests := []struct {
		in               string
		wantTok, wantVlt string
		wantOK           bool
	}{
		{"Basic " + b64("tok:main"), "tok", "main", true},
		{"basic " + b64("tok:"), "tok", "", true},
		{"Basic " + b64("tok"), "tok", "", true},
		{"Bearer tok", "tok", "", true},
		{"BEARER   tok ", "tok", "", true},
		{"Basic " + b64(":main"), "", "", false},
		{"Basic not-base64!", "", "", false},
		{"Bearer", "", "", false},
		{"Bearer a b", "", "", false},
		{"Digest x", "", "", false},
		{"", "", "", false},
		{"Basic " + b64("tok:ma\r\nin"), "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			tok, v, ok := parseProxyAuthorization(tc.in)
			if tok != tc.wantTok || v != tc.wantVlt || ok != tc.wantOK {
				t.Fatalf("got %q %q %v, want %q %q %v", tok, v, ok, tc.wantTok, tc.wantVlt, tc.wantOK)
			}
		})
	}
}

func FuzzParseProxyAuthorization(f *testing.F) {
	for _, s := range []string{"Basic " + b64("tok:main"), "Bearer tok", "Basic ", "bearer  ", "Basic " + b64("a:b:c")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, vault, ok := parseProxyAuthorization(h)
		if !ok {
			if tok != "" || vault != "" {
				t.Fatal("values returned with ok=false")
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, ": \t\r\n") || strings.ContainsAny(vault, "\r\n") {
			t.Fatalf("%q gave token %q vault %q", h, tok, vault)
		}
	})
}

func TestStripHopHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"connection-named",
			http.Header{"Connection": {"X-A, close"}, "X-A": {"1"}, "X-B": {"2"}, "Keep-Alive": {"5"}, "Proxy-Authorization": {"Basic x"}, "Te": {"trailers"}},
			http.Header{"X-B": {"2"}}},
		{"upgrade-kept",
			http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}},
			http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}}},
		{"upgrade-token-without-header",
			http.Header{"Connection": {"upgrade"}},
			http.Header{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stripHopHeaders(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Fatalf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}

func TestAsyncSink(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	s := NewAsyncSink(2, func(e Event) {
		<-release
		mu.Lock()
		got = append(got, e.Path)
		mu.Unlock()
	})
	// The handler holds event 0; events 1 and 2 fill the queue; 3 and 4 are
	// dropped without blocking. Emit happens before the handler can run, so
	// the first emit may or may not be taken off the queue yet: send one,
	// wait until the handler holds it, then fill.
	s.Emit(Event{Path: "/0"})
	release <- struct{}{} // the handler took /0 and is past <-release
	for i := 1; i <= 5; i++ {
		s.Emit(Event{Path: fmt.Sprintf("/%d", i)})
	}
	close(release)
	s.Close()
	s.Emit(Event{Path: "/after-close"})
	mu.Lock()
	defer mu.Unlock()
	if s.Dropped() != 1+uint64(5-len(got)+1) {
		t.Fatalf("dropped %d, delivered %v", s.Dropped(), got)
	}
	if got[0] != "/0" || len(got) < 3 {
		t.Fatalf("delivered %v", got)
	}
}
