package main

import "strings"

// URL building without package net/url: its parser and the net/netip
// tables behind it are tens of kilobytes of wasm, which the host loads on
// every start, and the plugin only escapes values it puts in paths and
// queries. The host parses and checks every URL it is asked to fetch.

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c needs no escape anywhere (RFC 3986).
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// pathEscape escapes s for one path segment, as url.PathEscape does: the
// sub-delimiters a segment may hold ($ & + : = @) stay, others and every
// other byte become %XX.
func pathEscape(s string) string {
	return escape(s, func(c byte) bool { return unreserved(c) || strings.IndexByte("$&+:=@", c) >= 0 }, false)
}

// queryEscape escapes s for a query key or value, as url.QueryEscape
// does: a space becomes '+', every byte that is not unreserved %XX.
func queryEscape(s string) string { return escape(s, unreserved, true) }

func escape(s string, keep func(byte) bool, plusForSpace bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case keep(c):
			b.WriteByte(c)
		case c == ' ' && plusForSpace:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

// query encodes key/value pairs as url.Values.Encode does: sorted by key
// (stably, so a repeated key keeps its order), each escaped.
func query(kv ...string) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, pair{kv[i], kv[i+1]})
	}
	for i := 1; i < len(pairs); i++ { // insertion sort: a handful of pairs, stable
		for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(queryEscape(p.k) + "=" + queryEscape(p.v))
	}
	return b.String()
}

// httpURL reports whether raw looks like an absolute http(s) URL with a
// host: what the plugin checks of an operator's URL before building
// requests on it (the host checks the rest, and refuses what it cannot
// parse).
func httpURL(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return false
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" || host[0] == ':' {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return false
		}
	}
	return true
}
