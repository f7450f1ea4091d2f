package broker

import (
	"net/url"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

func svc(name, host string) domain.Service {
	return domain.Service{Name: name, Host: host, Auth: domain.Auth{Type: domain.AuthPassthrough}}
}

func TestMatch(t *testing.T) {
	list := []domain.Service{
		svc("wild", "*.x.com"),
		svc("exact", "api.x.com"),
		svc("exact-port", "api.x.com:8443"),
		svc("v1", "api.x.com/v1/*"),
		svc("v1-charges", "api.x.com/v1/charges*"),
		svc("v1-exact", "api.x.com/v1/charges"),
		svc("first", "dup.x.com"),
		svc("second", "dup.x.com"),
		svc("v6", "[::1]:9000"),
		svc("other-wild", "*.y.com/api/*"),
		svc("plain", "plain.x.com"),
		svc("gitlab", "gitlab.test/api/v4/*"),
		svc("p-scoped", "p.x.com:9000/v1/*"),
		svc("p-any", "p.x.com"),
	}
	tests := []struct {
		name, host, port, path string
		want                   string
		wantPath               string // the canonical path to forward; "" when the path is unchanged
		wantAmbiguous          bool
	}{
		{name: "exact-beats-wildcard", host: "api.x.com", port: "443", path: "/", want: "exact"},
		{name: "wildcard", host: "www.x.com", port: "443", path: "/", want: "wild"},
		{name: "wildcard-not-apex", host: "x.com", port: "443", path: "/"},
		{name: "wildcard-one-label", host: "a.b.x.com", port: "443", path: "/"},
		{name: "port-beats-any-port", host: "api.x.com", port: "8443", path: "/v1/charges", want: "exact-port"},
		{name: "longer-path", host: "api.x.com", port: "443", path: "/v1/charges/ch_1", want: "v1-charges"},
		{name: "exact-path-beats-equal-prefix", host: "api.x.com", port: "443", path: "/v1/charges", want: "v1-exact"},
		{name: "shorter-path", host: "api.x.com", port: "443", path: "/v1/customers", want: "v1"},
		{name: "declaration-order", host: "dup.x.com", port: "80", path: "/", want: "first"},
		{name: "ipv6", host: "::1", port: "9000", path: "/", want: "v6"},
		{name: "ipv6-other-port", host: "::1", port: "9001", path: "/"},
		{name: "no-match", host: "example.com", port: "443", path: "/"},

		// One canonical form: unreserved escapes are decoded, the rest kept
		// with upper-case hex, and that form is matched and forwarded.
		{name: "unreserved-escape-decoded", host: "api.x.com", port: "443", path: "/%76%31/customers", want: "v1", wantPath: "/v1/customers"},
		{name: "hex-upper-cased", host: "api.x.com", port: "443", path: "/v1/a%3ab", want: "v1", wantPath: "/v1/a%3Ab"},
		{name: "raw-space-escaped", host: "api.x.com", port: "443", path: "/v1/a b", want: "v1", wantPath: "/v1/a%20b"},
		{name: "encoded-slash-after-prefix", host: "gitlab.test", port: "443", path: "/api/v4/projects/group%2Fproject", want: "gitlab"},

		// Ambiguous paths on a host with a path-scoped service are refused.
		{name: "dot-dot", host: "api.x.com", port: "443", path: "/v1/../admin", wantAmbiguous: true},
		{name: "dot-dot-no-host-service", host: "a.y.com", port: "443", path: "/api/../admin", wantAmbiguous: true},
		{name: "semicolon-dot-dot", host: "api.x.com", port: "443", path: "/v1/..;/admin", wantAmbiguous: true},
		{name: "semicolon-param", host: "api.x.com", port: "443", path: "/v1;x=1/charges", wantAmbiguous: true},
		{name: "encoded-slash-in-prefix", host: "api.x.com", port: "443", path: "/v1%2Fadmin", wantAmbiguous: true},
		{name: "encoded-slash-lower", host: "api.x.com", port: "443", path: "/v1%2fadmin", wantAmbiguous: true},
		{name: "double-encoded-dots", host: "api.x.com", port: "443", path: "/v1/%252e%252e/admin", wantAmbiguous: true},
		{name: "encoded-dots", host: "api.x.com", port: "443", path: "/v1/%2e%2e/admin", wantAmbiguous: true},
		{name: "mixed-encoded-dots", host: "api.x.com", port: "443", path: "/v1/.%2E/admin", wantAmbiguous: true},
		{name: "single-dot", host: "api.x.com", port: "443", path: "/v1/./x", wantAmbiguous: true},
		{name: "dots-between-encoded-slashes", host: "gitlab.test", port: "443", path: "/api/v4/%2F..%2F..%2Fadmin", wantAmbiguous: true},
		{name: "trailing-dot-dot", host: "api.x.com", port: "443", path: "/v1/..", wantAmbiguous: true},
		{name: "backslash", host: "api.x.com", port: "443", path: "/v1\\..\\admin", wantAmbiguous: true},
		{name: "encoded-backslash", host: "api.x.com", port: "443", path: "/v1/%5c", wantAmbiguous: true},
		{name: "malformed-escape", host: "api.x.com", port: "443", path: "/v1/%zz", wantAmbiguous: true},
		{name: "encoded-char-decides-prefix", host: "api.x.com", port: "443", path: "/v1%3A/x", want: "exact"},

		// A host with host-wide services only: the path decides nothing.
		{name: "host-wide-dots-pass", host: "plain.x.com", port: "443", path: "/a/../b", want: "plain"},
		{name: "host-wide-semicolon-pass", host: "plain.x.com", port: "443", path: "/a;b", want: "plain"},
		{name: "other-port-not-scoped", host: "p.x.com", port: "443", path: "/v1/../admin", want: "p-any"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, path, err := Match(list, tc.host, tc.port, tc.path)
			if tc.wantAmbiguous {
				if domain.CodeOf(err) != domain.CodeAmbiguousPath || i != -1 {
					t.Fatalf("Match = %d, %v; want %s", i, err, domain.CodeAmbiguousPath)
				}
				return
			}
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			got := ""
			if i >= 0 {
				got = list[i].Name
			}
			if got != tc.want {
				t.Fatalf("Match = %q, want %q", got, tc.want)
			}
			want := tc.wantPath
			if want == "" {
				want = tc.path
			}
			if path != want {
				t.Fatalf("forward path = %q, want %q", path, want)
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		in, def          string
		wantHost, wantPt string
		wantErr          bool
	}{
		{in: "api.x.com:443", wantHost: "api.x.com", wantPt: "443"},
		{in: "API.X.com:443", wantHost: "api.x.com", wantPt: "443"},
		{in: "api.x.com", def: "80", wantHost: "api.x.com", wantPt: "80"},
		{in: "[::1]:8443", wantHost: "::1", wantPt: "8443"},
		{in: "[0:0::1]:80", wantHost: "::1", wantPt: "80"},
		{in: "[::ffff:127.0.0.1]:80", wantHost: "127.0.0.1", wantPt: "80"},
		{in: "127.0.0.1:80", wantHost: "127.0.0.1", wantPt: "80"},
		{in: "api.x.com", wantErr: true}, // CONNECT needs a port
		{in: "", wantErr: true},
		{in: ":443", wantErr: true},
		{in: "api.x.com:0", wantErr: true},
		{in: "api.x.com:65536", wantErr: true},
		{in: "api.x.com:+1", wantErr: true},
		{in: "api.x.com:08", wantErr: true},
		{in: "user@api.x.com:443", wantErr: true},
		{in: "api.x.com/x:443", wantErr: true},
		{in: "::1:443", wantErr: true},
		{in: "[::1]x", wantErr: true},
		{in: "[fe80::1%25eth0]:443", wantErr: true},
		{in: "[1.2.3.4]:443", wantErr: true},
		{in: "a b:443", wantErr: true},
		{in: "a\x00b:443", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			h, p, err := SplitTarget(tc.in, tc.def)
			if tc.wantErr {
				if err != ErrBadTarget {
					t.Fatalf("SplitTarget = %q %q %v, want ErrBadTarget", h, p, err)
				}
				return
			}
			if err != nil || h != tc.wantHost || p != tc.wantPt {
				t.Fatalf("SplitTarget = %q %q %v, want %q %q", h, p, err, tc.wantHost, tc.wantPt)
			}
		})
	}
}

func FuzzSplitTarget(f *testing.F) {
	for _, s := range []string{"api.x.com:443", "[::1]:80", "x", "[::ffff:1.2.3.4]:1", "a:b:c", "[", "]:1", "0x7f.1:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, p, err := SplitTarget(in, "80")
		if err != nil {
			return
		}
		if h == "" || p == "" || h != strings.ToLower(h) {
			t.Fatalf("%q -> %q %q", in, h, p)
		}
		// The result must survive a round trip through a URL unchanged, so
		// what we match is what the dialer sees.
		u, perr := url.Parse("http://" + joinHostPort(h, p) + "/")
		if perr != nil {
			t.Fatalf("%q -> %q %q does not form a URL: %v", in, h, p, perr)
		}
		if u.Hostname() != h || u.Port() != p {
			t.Fatalf("%q -> %q %q, URL gives %q %q", in, h, p, u.Hostname(), u.Port())
		}
	})
}

func joinHostPort(h, p string) string {
	if strings.IndexByte(h, ':') >= 0 {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}

func FuzzMatch(f *testing.F) {
	f.Add("*.x.com", "api.x.com/v1/*", "api.x.com", "443", "/v1/a")
	f.Add("a.x.com:80", "[::1]", "::1", "80", "/../x")
	f.Add("api.example.test/v1/*", "api.example.test", "api.example.test", "443", "/v1/..;/admin")
	f.Add("api.example.test/v1/*", "api.example.test", "api.example.test", "443", "/v1%2Fadmin")
	f.Add("api.example.test/v1/*", "api.example.test", "api.example.test", "443", "/v1/%252e%252e/admin")
	f.Add("api.example.test/v1/*", "x.test", "api.example.test", "443", "/v1/%2e%2E/admin")
	f.Add("api.example.test/v1/*", "x.test", "api.example.test", "443", "/v1/%2F..%2F..%2Fadmin")
	f.Fuzz(func(t *testing.T, p1, p2, host, port, path string) {
		list := []domain.Service{svc("a", p1), svc("b", p2)}
		i, canon, err := Match(list, host, port, path)
		if err != nil {
			if i != -1 || domain.CodeOf(err) != domain.CodeAmbiguousPath {
				t.Fatalf("Match = %d, %v", i, err)
			}
			return
		}
		if i < -1 || i > 1 {
			t.Fatalf("index %d", i)
		}
		if i < 0 {
			return
		}
		p, perr := domain.ParseHostPattern(list[i].Host)
		if perr != nil {
			t.Fatalf("picked %q which does not parse", list[i].Host)
		}
		if c, _ := canonicalPath(p.Path); p.Path == "" || c != p.Path {
			return // host-wide, or a pattern whose plain and escaped forms differ
		}
		// A path-scoped service was picked: however the upstream reads the
		// path we forward (as is, decoded once or twice, ";" parameters
		// stripped, backslashes as slashes, dot segments resolved), it is
		// still under the service's path.
		for _, seen := range upstreamReadings(canon) {
			if p.Prefix && !strings.HasPrefix(seen, p.Path) || !p.Prefix && seen != p.Path {
				t.Fatalf("%q matched %q (forwarded as %q) but an upstream may read it as %q", path, list[i].Host, canon, seen)
			}
		}
	})
}

// upstreamReadings is how different servers might read an escaped path.
func upstreamReadings(escaped string) []string {
	once, err1 := url.PathUnescape(escaped)
	twice, err2 := url.PathUnescape(once)
	forms := []string{escaped}
	if err1 == nil {
		forms = append(forms, once)
	}
	if err1 == nil && err2 == nil {
		forms = append(forms, twice)
	}
	var out []string
	for _, f := range forms {
		out = append(out, removeDots(f), removeDots(stripParams(strings.ReplaceAll(f, "\\", "/"))))
	}
	return out
}

// stripParams drops ";..." from every segment, as servlet containers do.
func stripParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	return strings.Join(segs, "/")
}

// removeDots is RFC 3986 section 5.2.4 for an absolute path.
func removeDots(p string) string {
	segs := strings.Split(p, "/")
	var out []string
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}
