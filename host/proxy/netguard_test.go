package proxy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/netguard"
)

// rebinder answers a public address and a loopback one for every name, the
// shape of a DNS-rebinding attack.
type rebinder struct{}

func (rebinder) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")}, nil
}

// TestWithNetguard runs the proxy on the real private-range guard: every
// spelling of a loopback or metadata address, and a rebinding resolver, is
// refused before anything is dialled; with private ranges allowed the
// loopback upstream is reachable but metadata stays blocked.
func TestWithNetguard(t *testing.T) {
	strict, err := netguard.New(netguard.Options{Resolver: rebinder{}})
	if err != nil {
		t.Fatal(err)
	}
	open, err := netguard.New(netguard.Options{AllowPrivate: true, Resolver: rebinder{}})
	if err != nil {
		t.Fatal(err)
	}
	var upPort string
	for _, g := range []struct {
		name  string
		guard *netguard.Guard
	}{{"strict", strict}, {"allow-private", open}} {
		e := newEnv(t, testServices(), func(c *Config) { c.DialContext = g.guard.DialContext })
		_, upPort, _ = net.SplitHostPort(e.plain.Listener.Addr().String())
		c := e.client("tok1:main")
		tests := []struct {
			url         string
			strictCode  string // "" means reachable
			privateCode string
		}{
			{"http://127.0.0.1:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://2130706433:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://0x7f.0.0.1:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://0177.0.0.1:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://127.1:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://[::ffff:127.0.0.1]:" + upPort + "/", domain.CodeDestinationBlocked, ""},
			{"http://[::1]:1/", domain.CodeDestinationBlocked, CodeUpstream},
			{"http://169.254.169.254/latest/meta-data/", domain.CodeDestinationBlocked, domain.CodeDestinationBlocked},
			{"http://[fd00:ec2::254]/", domain.CodeDestinationBlocked, domain.CodeDestinationBlocked},
			// With private ranges allowed a mixed answer is legitimate, and
			// dialling its public half would leave loopback: strict only.
			{"http://rebind.test:" + upPort + "/", domain.CodeDestinationBlocked, "skip"},
			{"https://127.0.0.1:" + upPort + "/", domain.CodeDestinationBlocked, CodeUpstream},
		}
		for _, tc := range tests {
			t.Run(g.name+"/"+tc.url, func(t *testing.T) {
				want := tc.strictCode
				if g.name == "allow-private" {
					want = tc.privateCode
				}
				if want == "skip" {
					t.Skip("not meaningful with private ranges allowed")
				}
				resp, err := c.Get(tc.url)
				if err != nil {
					t.Fatal(err)
				}
				if want == "" {
					if got := decodeEcho(t, resp); got.Name != "api" {
						t.Fatalf("reached %q", got.Name)
					}
					return
				}
				b := errorOf(t, resp)
				if b.Error != want {
					t.Fatalf("status %d code %q (%s), want %q", resp.StatusCode, b.Error, b.Message, want)
				}
				if want == domain.CodeDestinationBlocked && resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if strings.Contains(b.Message, "TOKENVALUE") {
					t.Fatal("credential in message")
				}
			})
		}
	}
}
