//go:build !wasip1

package main

import (
	"net/url"
	"testing"
)

var escapeSamples = []string{"", "p-1", "a b", "a/b?c#d", "x+y=z&w", "$&+,/:;=?@", "é", "%41", "~._-", "\x00\x7f\xff", "lease-ID_1.2~3"}

// The escapes are net/url's, without linking it.
func TestEscapesMatchNetURL(t *testing.T) {
	for _, s := range escapeSamples {
		checkEscapes(t, s)
	}
}

func checkEscapes(t *testing.T, s string) {
	if got, want := pathEscape(s), url.PathEscape(s); got != want {
		t.Fatalf("pathEscape(%q) = %q, url.PathEscape %q", s, got, want)
	}
	if got, want := queryEscape(s), url.QueryEscape(s); got != want {
		t.Fatalf("queryEscape(%q) = %q, url.QueryEscape %q", s, got, want)
	}
	v := url.Values{}
	v.Set("b", s)
	v.Set(s, "a")
	if got, want := query("b", s, s, "a"), v.Encode(); s != "b" && got != want {
		t.Fatalf("query = %q, url.Values.Encode %q", got, want)
	}
}

func FuzzEscapes(f *testing.F) {
	for _, s := range escapeSamples {
		f.Add(s)
	}
	f.Fuzz(checkEscapes)
}

func TestHTTPURL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"https://app.infisical.com", true},
		{"http://127.0.0.1:8080/base", true},
		{"HTTPS://X", true},
		{"https://user@host/x", true},
		{"http://[::1]:80", true},
		{"ftp://x", false},
		{"app.infisical.com", false},
		{"https://", false},
		{"https:///path", false},
		{"https://:80", false},
		{"https://a b", false},
		{"https://x\n", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := httpURL(tc.in); got != tc.want {
			t.Errorf("httpURL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
