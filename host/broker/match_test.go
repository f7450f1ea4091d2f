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
	}
	tests := []struct {
		name, host, port, path string
		want                   string
	}{
		{"exact-beats-wildcard", "api.x.com", "443", "/", "exact"},
		{"wildcard", "www.x.com", "443", "/", "wild"},
		{"wildcard-not-apex", "x.com", "443", "/", ""},
		{"wildcard-one-label", "a.b.x.com", "443", "/", ""},
		{"port-beats-any-port", "api.x.com", "8443", "/v1/charges", "exact-port"},
		{"longer-path", "api.x.com", "443", "/v1/charges/ch_1", "v1-charges"},
		{"exact-path-beats-equal-prefix", "api.x.com", "443", "/v1/charges", "v1-exact"},
		{"shorter-path", "api.x.com", "443", "/v1/customers", "v1"},
		{"declaration-order", "dup.x.com", "80", "/", "first"},
		{"dot-segments-skip-path-services", "api.x.com", "443", "/v1/../admin", "exact"},
		{"dot-segments-no-fallback", "a.y.com", "443", "/api/../admin", ""},
		{"ipv6", "::1", "9000", "/", "v6"},
		{"ipv6-other-port", "::1", "9001", "/", ""},
		{"no-match", "example.com", "443", "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := Match(list, tc.host, tc.port, tc.path)
			got := ""
			if i >= 0 {
				got = list[i].Name
			}
			if got != tc.want {
				t.Fatalf("Match = %q, want %q", got, tc.want)
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
	f.Fuzz(func(t *testing.T, p1, p2, host, port, path string) {
		list := []domain.Service{svc("a", p1), svc("b", p2)}
		i := Match(list, host, port, path)
		if i < -1 || i > 1 {
			t.Fatalf("index %d", i)
		}
		if i >= 0 {
			p, err := domain.ParseHostPattern(list[i].Host)
			if err != nil || !p.Matches(host, port, path) {
				t.Fatalf("picked %q which does not match %q %q %q", list[i].Host, host, port, path)
			}
		}
	})
}
