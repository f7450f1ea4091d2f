package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

func checkErr(t *testing.T, err error, wantCode, wantText string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %q", wantText)
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %T %v, want *domain.Error", err, err)
	}
	if de.Code != wantCode || err.Error() != wantText {
		t.Fatalf("err = %q (code %s)\nwant %q (code %s)", err.Error(), de.Code, wantText, wantCode)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name, host, want string
	}{
		{"dotted", "127.0.0.1", "127.0.0.1"},
		{"decimal", "2130706433", "127.0.0.1"},
		{"octal", "0177.0.0.1", "127.0.0.1"},
		{"octal-whole", "017700000001", "127.0.0.1"},
		{"hex-dotted", "0x7f.0.0.1", "127.0.0.1"},
		{"hex-whole", "0x7f000001", "127.0.0.1"},
		{"hex-upper", "0X7F.1", "127.0.0.1"},
		{"short-two", "127.1", "127.0.0.1"},
		{"short-three", "127.0.1", "127.0.0.1"},
		{"mixed-bases", "0x7f.0.00.0x1", "127.0.0.1"},
		{"zero", "0", "0.0.0.0"},
		{"metadata-short", "169.254.43518", "169.254.169.254"},
		{"metadata-hex", "0xa9fea9fe", "169.254.169.254"},
		{"metadata-decimal", "2852039166", "169.254.169.254"},
		{"trailing-dot-ip", "127.0.0.1.", "127.0.0.1"},
		{"mapped-dotted", "::ffff:127.0.0.1", "127.0.0.1"},
		{"mapped-hex", "::ffff:7f00:1", "127.0.0.1"},
		{"mapped-bracketed", "[::ffff:169.254.169.254]", "169.254.169.254"},
		{"bracketed", "[::1]", "::1"},
		{"long-form", "0:0:0:0:0:0:0:1", "::1"},
		{"upper-v6", "[FD00:EC2::254]", "fd00:ec2::254"},
		{"zone", "fe80::1%eth0", "fe80::1%eth0"},
		{"zone-url-escaped", "[fe80::1%25eth0]", "fe80::1%eth0"},
		{"name", "api.example.com", "api.example.com"},
		{"name-case-dot", "Example.COM.", "example.com"},
		{"name-idn", "bücher.example", "xn--bcher-kva.example"},
		{"name-underscore", "my_host.internal", "my_host.internal"},
		{"name-numeric-inside", "1.2.3.4.example", "1.2.3.4.example"},
		{"name-hexish", "cafe.beef", "cafe.beef"},
		{"localhost", "LOCALHOST", "localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeHost(tc.host)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tc.host, got, err, tc.want)
			}
			if again, err := NormalizeHost(got); err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizeHost_invalid(t *testing.T) {
	num := "ends in a number but is not a valid IPv4 address"
	tests := []struct {
		name, host, wantText string
	}{
		{"empty", "", `invalid_host: host "" is empty`},
		{"octet-too-big", "256.0.0.1", `invalid_host: host "256.0.0.1" ` + num},
		{"last-too-big", "1.2.3.256", `invalid_host: host "1.2.3.256" ` + num},
		{"short-too-big", "1.16777216", `invalid_host: host "1.16777216" ` + num},
		{"five-parts", "1.2.3.4.5", `invalid_host: host "1.2.3.4.5" ` + num},
		{"over-32-bits", "0x100000000", `invalid_host: host "0x100000000" ` + num},
		{"bad-octal", "08.0.0.1", `invalid_host: host "08.0.0.1" ` + num},
		{"bare-0x", "0x", `invalid_host: host "0x" ` + num},
		{"name-then-number", "example.0x1", `invalid_host: host "example.0x1" ` + num},
		{"empty-part", "1..1", `invalid_host: host "1..1" ` + num},
		{"unclosed", "[::1", `invalid_host: host "[::1" has an unclosed bracket`},
		{"bracketed-v4", "[127.0.0.1]", `invalid_host: host "[127.0.0.1]" is not a valid IPv6 address`},
		{"bad-v6", "::g", `invalid_host: host "::g" is not a valid IPv6 address`},
		{"empty-label", "a..b", `invalid_host: host "a..b" has an empty label or one longer than 63 characters`},
		{"long-label", strings.Repeat("a", 64) + ".com", `invalid_host: host "` + strings.Repeat("a", 64) + `.com" has an empty label or one longer than 63 characters`},
		{"hyphen", "-a.com", `invalid_host: host "-a.com" has a label that starts or ends with a hyphen`},
		{"space", "a b.com", `invalid_host: host "a b.com" may contain only letters, digits, hyphens, underscores and dots`},
		{"percent-ip", "%31%32%37.0.0.1", `invalid_host: host "%31%32%37.0.0.1" ` + num},
		{"percent-name", "%6cocalhost", `invalid_host: host "%6cocalhost" may contain only letters, digits, hyphens, underscores and dots`},
		{"userinfo", "user@host", `invalid_host: host "user@host" may contain only letters, digits, hyphens, underscores and dots`},
		{"dot-only", ".", `invalid_host: host "." must be 1 to 253 characters long`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeHost(tc.host)
			if got != "" {
				t.Fatalf("got %q with an error", got)
			}
			checkErr(t, err, domain.CodeInvalidHost, tc.wantText)
		})
	}
}

func TestParseIPLiteral(t *testing.T) {
	tests := []struct {
		host   string
		want   string
		wantOK bool
	}{
		{"0x7f.1", "127.0.0.1", true},
		{"[::ffff:7f00:1]", "127.0.0.1", true},
		{"example.com", "", false},
		{"256.1.1.1", "", false},
	}
	for _, tc := range tests {
		a, ok := ParseIPLiteral(tc.host)
		if ok != tc.wantOK || (ok && a != netip.MustParseAddr(tc.want)) {
			t.Errorf("ParseIPLiteral(%q) = %v, %v; want %s, %v", tc.host, a, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "[::ffff:7f00:1]",
		"[fe80::1%25eth0]", "Bücher.example.", "1.2.3.4.5", "0x", "a..b", "[::1", "%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		norm, err := NormalizeHost(host)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeInvalidHost {
				t.Fatalf("error without the invalid_host code: %v", err)
			}
			return
		}
		again, err := NormalizeHost(norm)
		if err != nil || again != norm {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", host, norm, again, err)
		}
		if a, ok := ParseIPLiteral(host); ok {
			if a.String() != norm || a.Is4In6() {
				t.Fatalf("literal %q normalised to %q, parsed as %v", host, norm, a)
			}
			return
		}
		if len(norm) > maxHostLen || strings.ContainsAny(norm, " %@/[]:") {
			t.Fatalf("name %q normalised to unsafe %q", host, norm)
		}
	})
}
