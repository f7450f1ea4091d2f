package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// fakeResolver answers from a script: the i-th lookup of a name gets
// answers[name][i], the last answer repeating. Names without answers fail.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]string
	calls   map[string]int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	script, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(f.calls[host], len(script)-1)
	f.calls[host]++
	var out []netip.Addr
	for _, s := range script[i] {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func (f *fakeResolver) count(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[host]
}

// recorder stands in for the real dialer and remembers what was dialled.
type recorder struct {
	mu     sync.Mutex
	dialed []string
}

func (r *recorder) dial(_ context.Context, network, address string) (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dialed = append(r.dialed, network+" "+address)
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

// dnsAnswers is the resolver every table row shares.
var dnsAnswers = map[string][][]string{
	"public.example":    {{"93.184.215.14"}},
	"dual.example":      {{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}},
	"vault.internal":    {{"10.1.2.3"}},
	"a.b.corp.example":  {{"10.9.9.9"}},
	"corp.example":      {{"10.9.9.9"}},
	"localhost":         {{"127.0.0.1", "::1"}},
	"mixed.example":     {{"93.184.215.14", "10.0.0.1"}},
	"metadata.internal": {{"169.254.169.254"}},
	"v6only.example":    {{"2606:2800:21f:cb07:6820:80da:af6b:8b2c"}},
}

func testGuard(t *testing.T, o Options, exceptions ...string) (*Guard, *recorder, *fakeResolver) {
	t.Helper()
	res := &fakeResolver{answers: dnsAnswers}
	o.Resolver = res
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(exceptions) > 0 {
		if g, err = g.WithExceptions(exceptions...); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	g.dial = rec.dial
	return g, rec, res
}

func TestGuard_allowed(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		exceptions []string
		network    string
		address    string
		wantDial   string
	}{
		{"public-literal", Options{}, nil, "tcp", "1.1.1.1:443", "tcp 1.1.1.1:443"},
		{"public-decimal", Options{}, nil, "tcp", "16843009:443", "tcp 1.1.1.1:443"},
		{"public-mapped", Options{}, nil, "tcp", "[::ffff:1.1.1.1]:443", "tcp 1.1.1.1:443"},
		{"public-v6", Options{}, nil, "tcp", "[2606:4700::1111]:443", "tcp [2606:4700::1111]:443"},
		{"public-nat64", Options{}, nil, "tcp", "[64:ff9b::101:101]:443", "tcp [64:ff9b::101:101]:443"},
		{"public-name", Options{}, nil, "tcp", "public.example:443", "tcp 93.184.215.14:443"},
		{"public-name-case", Options{}, nil, "tcp", "PUBLIC.example.:443", "tcp 93.184.215.14:443"},
		{"tcp6-picks-v6", Options{}, nil, "tcp6", "dual.example:443", "tcp6 [2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443"},
		{"tcp4-picks-v4", Options{}, nil, "tcp4", "dual.example:443", "tcp4 93.184.215.14:443"},
		{"flag-private", Options{AllowPrivate: true}, nil, "tcp", "10.0.0.1:80", "tcp 10.0.0.1:80"},
		{"flag-loopback-name", Options{AllowPrivate: true}, nil, "tcp", "localhost:80", "tcp 127.0.0.1:80"},
		{"flag-ula", Options{AllowPrivate: true}, nil, "tcp", "[fd12::1]:80", "tcp [fd12::1]:80"},
		{"flag-cgn", Options{AllowPrivate: true}, nil, "tcp", "100.64.0.1:80", "tcp 100.64.0.1:80"},
		{"allow-cidr", Options{AllowNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, nil, "tcp", "vault.internal:8200", "tcp 10.1.2.3:8200"},
		{"allow-cidr-mapped", Options{AllowNets: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, nil, "tcp", "10.1.2.3:80", "tcp 10.1.2.3:80"},
		{"allow-host", Options{AllowHosts: []string{"Vault.Internal."}}, nil, "tcp", "vault.internal:8200", "tcp 10.1.2.3:8200"},
		{"allow-wildcard", Options{AllowHosts: []string{"*.corp.example"}}, nil, "tcp", "a.b.corp.example:443", "tcp 10.9.9.9:443"},
		{"exception-literal", Options{}, []string{"127.0.0.1:8080"}, "tcp", "127.0.0.1:8080", "tcp 127.0.0.1:8080"},
		{"exception-short-form", Options{}, []string{"127.0.0.1:8080"}, "tcp", "127.1:8080", "tcp 127.0.0.1:8080"},
		{"exception-url", Options{}, []string{"http://LOCALHOST:8080/api"}, "tcp", "localhost:8080", "tcp 127.0.0.1:8080"},
		{"exception-url-default-port", Options{}, []string{"https://vault.internal"}, "tcp", "vault.internal:443", "tcp 10.1.2.3:443"},
		{"exception-v6", Options{}, []string{"[::1]:9000"}, "tcp", "[::1]:9000", "tcp [::1]:9000"},
		{"pinned-public", Options{Pins: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("1.0.0.1")}}}, nil, "tcp", "api.example.com:443", "tcp 1.0.0.1:443"},
		{"pinned-private-allowed", Options{AllowPrivate: true, Pins: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("127.0.0.1")}}}, nil, "tcp", "api.example.com:443", "tcp 127.0.0.1:443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, rec, _ := testGuard(t, tc.opts, tc.exceptions...)
			conn, err := g.DialContext(context.Background(), tc.network, tc.address)
			if err != nil {
				t.Fatalf("DialContext(%s) = %v", tc.address, err)
			}
			conn.Close()
			if len(rec.dialed) != 1 || rec.dialed[0] != tc.wantDial {
				t.Fatalf("dialed %q, want [%q]", rec.dialed, tc.wantDial)
			}
		})
	}
}

func TestGuard_denied(t *testing.T) {
	const hint = "; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true"
	blocked := domain.CodeDestinationBlocked
	all := Options{AllowPrivate: true, AllowNets: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	tests := []struct {
		name       string
		opts       Options
		exceptions []string
		network    string
		address    string
		wantCode   string
		wantText   string
	}{
		{"loopback", Options{}, nil, "tcp", "127.0.0.1:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-decimal", Options{}, nil, "tcp", "2130706433:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-octal", Options{}, nil, "tcp", "0177.0.0.1:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-hex", Options{}, nil, "tcp", "0x7f.0.0.1:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-short", Options{}, nil, "tcp", "127.1:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-mapped", Options{}, nil, "tcp", "[::ffff:7f00:1]:80", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"loopback-v6", Options{}, nil, "tcp", "[::1]:80", blocked, "destination_blocked: address ::1, in the loopback range" + hint},
		{"localhost", Options{}, nil, "tcp", "localhost:80", blocked, `destination_blocked: host "localhost" resolves to an address that is not public` + hint},
		{"rfc1918-name", Options{}, nil, "tcp", "vault.internal:80", blocked, `destination_blocked: host "vault.internal" resolves to an address that is not public` + hint},
		{"rfc1918-172", Options{}, nil, "tcp", "172.16.0.1:80", blocked, "destination_blocked: address 172.16.0.1, in the private range" + hint},
		{"rfc1918-192", Options{}, nil, "tcp", "192.168.1.1:80", blocked, "destination_blocked: address 192.168.1.1, in the private range" + hint},
		{"cgn", Options{}, nil, "tcp", "100.64.0.1:80", blocked, "destination_blocked: address 100.64.0.1, in the carrier-grade NAT range" + hint},
		{"link-local", Options{}, nil, "tcp", "169.254.1.1:80", blocked, "destination_blocked: address 169.254.1.1, in the link-local range" + hint},
		{"link-local-v6", Options{}, nil, "tcp", "[fe80::1%25eth0]:80", blocked, "destination_blocked: address fe80::1%eth0, in the link-local range" + hint},
		{"ula", Options{}, nil, "tcp", "[fd12::1]:80", blocked, "destination_blocked: address fd12::1, in the unique local range" + hint},
		{"unspecified", Options{}, nil, "tcp", "0.0.0.0:80", blocked, "destination_blocked: address 0.0.0.0, in the unspecified range" + hint},
		{"unspecified-v6", Options{}, nil, "tcp", "[::]:80", blocked, "destination_blocked: address ::, in the unspecified range" + hint},
		{"multicast", Options{}, nil, "tcp", "224.0.0.1:80", blocked, "destination_blocked: address 224.0.0.1, in the multicast range" + hint},
		{"broadcast", Options{}, nil, "tcp", "255.255.255.255:80", blocked, "destination_blocked: address 255.255.255.255, in the broadcast range" + hint},
		{"6to4-private", Options{}, nil, "tcp", "[2002:a00:1::]:80", blocked, "destination_blocked: address 2002:a00:1::, in the private 10.0.0.1 via 6to4 range" + hint},
		{"v4-compatible", Options{}, nil, "tcp", "[::127.0.0.1]:80", blocked, "destination_blocked: address ::7f00:1, in the IPv4-compatible range" + hint},
		{"mixed-answer", Options{}, nil, "tcp", "mixed.example:443", blocked, `destination_blocked: host "mixed.example" resolves to an address that is not public` + hint},
		{"exception-other-port", Options{}, []string{"127.0.0.1:8080"}, "tcp", "127.0.0.1:8081", blocked, "destination_blocked: address 127.0.0.1, in the loopback range" + hint},
		{"exception-other-host", Options{}, []string{"127.0.0.1:8080"}, "tcp", "127.0.0.2:8080", blocked, "destination_blocked: address 127.0.0.2, in the loopback range" + hint},
		{"wildcard-not-apex", Options{AllowHosts: []string{"*.corp.example"}}, nil, "tcp", "corp.example:443", blocked, `destination_blocked: host "corp.example" resolves to an address that is not public` + hint},
		{"cidr-miss", Options{AllowNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}, nil, "tcp", "vault.internal:80", blocked, `destination_blocked: host "vault.internal" resolves to an address that is not public` + hint},
		{"pinned-private", Options{Pins: map[string][]netip.Addr{"api.example.com": {netip.MustParseAddr("10.0.0.5")}}}, nil, "tcp", "api.example.com:443", blocked, `destination_blocked: host "api.example.com" resolves to an address that is not public` + hint},

		// Metadata stays blocked whatever is allowed.
		{"metadata", all, nil, "tcp", "169.254.169.254:80", blocked, "destination_blocked: address 169.254.169.254, a cloud metadata endpoint (instance metadata), which is always blocked"},
		{"metadata-decimal", all, nil, "tcp", "2852039166:80", blocked, "destination_blocked: address 169.254.169.254, a cloud metadata endpoint (instance metadata), which is always blocked"},
		{"metadata-mapped", all, nil, "tcp", "[::ffff:a9fe:a9fe]:80", blocked, "destination_blocked: address 169.254.169.254, a cloud metadata endpoint (instance metadata), which is always blocked"},
		{"metadata-v6", all, nil, "tcp", "[fd00:ec2::254]:80", blocked, "destination_blocked: address fd00:ec2::254, a cloud metadata endpoint (AWS instance metadata (IPv6)), which is always blocked"},
		{"metadata-ecs", all, nil, "tcp", "169.254.170.2:80", blocked, "destination_blocked: address 169.254.170.2, a cloud metadata endpoint (AWS ECS task metadata), which is always blocked"},
		{"metadata-alibaba", all, nil, "tcp", "100.100.100.200:80", blocked, "destination_blocked: address 100.100.100.200, a cloud metadata endpoint (Alibaba Cloud metadata), which is always blocked"},
		{"metadata-nat64", all, nil, "tcp", "[64:ff9b::a9fe:a9fe]:80", blocked, "destination_blocked: address 64:ff9b::a9fe:a9fe, a cloud metadata endpoint (instance metadata 169.254.169.254 via NAT64), which is always blocked"},
		{"metadata-name", all, nil, "tcp", "metadata.internal:80", blocked, `destination_blocked: host "metadata.internal" resolves to an address that is always blocked`},
		{"metadata-exception", Options{}, []string{"169.254.169.254:80"}, "tcp", "169.254.169.254:80", blocked, "destination_blocked: address 169.254.169.254, a cloud metadata endpoint (instance metadata), which is always blocked"},

		{"udp", Options{}, nil, "udp", "1.1.1.1:53", blocked, `destination_blocked: network "udp" is not allowed; only TCP is`},
		{"no-v6-address", Options{}, nil, "tcp6", "public.example:443", blocked, `destination_blocked: host "public.example" has no tcp6 address`},
		{"no-port", Options{}, nil, "tcp", "1.1.1.1", domain.CodeInvalidHost, `invalid_host: address "1.1.1.1" is not host:port`},
		{"named-port", Options{}, nil, "tcp", "1.1.1.1:https", domain.CodeInvalidHost, `invalid_host: address "1.1.1.1:https": port "https" is not a number from 1 to 65535`},
		{"port-zero", Options{}, nil, "tcp", "1.1.1.1:0", domain.CodeInvalidHost, `invalid_host: address "1.1.1.1:0": port "0" is not a number from 1 to 65535`},
		{"bad-host", Options{}, nil, "tcp", "256.1.1.1:80", domain.CodeInvalidHost, `invalid_host: host "256.1.1.1" ends in a number but is not a valid IPv4 address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, rec, _ := testGuard(t, tc.opts, tc.exceptions...)
			conn, err := g.DialContext(context.Background(), tc.network, tc.address)
			if conn != nil {
				conn.Close()
				t.Fatal("got a connection")
			}
			checkErr(t, err, tc.wantCode, tc.wantText)
			if len(rec.dialed) != 0 {
				t.Fatalf("dialed %q although refused", rec.dialed)
			}
		})
	}
}

func TestGuard_resolveError(t *testing.T) {
	g, rec, _ := testGuard(t, Options{})
	_, err := g.DialContext(context.Background(), "tcp", "nxdomain.example:443")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || len(rec.dialed) != 0 {
		t.Fatalf("err = %v, dialed %q; want a not-found DNS error and no dial", err, rec.dialed)
	}
}

// TestGuard_rebinding: a name that answers public to the first lookup and
// private to every later one. The guard looks it up once per dial and dials
// the address it checked, never a second answer.
func TestGuard_rebinding(t *testing.T) {
	g, rec, res := testGuard(t, Options{})
	res.answers = map[string][][]string{"rebind.example": {{"1.1.1.1"}, {"127.0.0.1"}}}

	conn, err := g.DialContext(context.Background(), "tcp", "rebind.example:443")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if got := res.count("rebind.example"); got != 1 {
		t.Fatalf("resolver called %d times for one dial, want 1", got)
	}
	if len(rec.dialed) != 1 || rec.dialed[0] != "tcp 1.1.1.1:443" {
		t.Fatalf("dialed %q, want the checked address 1.1.1.1:443", rec.dialed)
	}

	// The next dial sees the private answer and is refused before dialling.
	_, err = g.DialContext(context.Background(), "tcp", "rebind.example:443")
	checkErr(t, err, domain.CodeDestinationBlocked,
		`destination_blocked: host "rebind.example" resolves to an address that is not public; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true`)
	if len(rec.dialed) != 1 {
		t.Fatalf("dialed %q after refusal", rec.dialed)
	}
}

// failingResolver fails the test if consulted.
type failingResolver struct{ t *testing.T }

func (f failingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.t.Errorf("resolver consulted for %q", host)
	return nil, errors.New("unexpected lookup")
}

// TestGuard_loopbackListener dials a real listener through the real dialer.
func TestGuard_loopbackListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	addr := ln.Addr().String()
	pins := map[string][]netip.Addr{"upstream.test": {netip.MustParseAddr("127.0.0.1")}}
	otherPort := "127.0.0.1:1"
	if port == 1 {
		otherPort = "127.0.0.1:2"
	}

	tests := []struct {
		name       string
		opts       Options
		exceptions []string
		address    string
		wantErr    string
	}{
		{"default-refuses", Options{}, nil, addr, "destination_blocked: address 127.0.0.1, in the loopback range; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true"},
		{"allow-private", Options{AllowPrivate: true}, nil, addr, ""},
		{"allowlist", Options{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil, addr, ""},
		{"exception", Options{}, []string{addr}, addr, ""},
		{"exception-other-port", Options{}, []string{otherPort}, addr, "destination_blocked: address 127.0.0.1, in the loopback range; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true"},
		{"pinned-name", Options{AllowPrivate: true, Pins: pins}, nil, net.JoinHostPort("upstream.test", strconv.Itoa(port)), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Resolver = failingResolver{t}
			g, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if g, err = g.WithExceptions(tc.exceptions...); err != nil {
				t.Fatal(err)
			}
			conn, err := g.DialContext(context.Background(), "tcp", tc.address)
			if tc.wantErr != "" {
				checkErr(t, err, domain.CodeDestinationBlocked, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got, err := io.ReadAll(conn)
			if err != nil || string(got) != "ok" {
				t.Fatalf("read %q, %v; want ok", got, err)
			}
		})
	}
}

// TestGuard_httpTransport is how the proxy and the plugin capability use the
// guard: as the DialContext of their transport.
func TestGuard_httpTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream")
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name       string
		exceptions []string
		wantErr    string
	}{
		{"exception", []string{srv.URL}, ""},
		{"no-exception", nil, "destination_blocked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Options{Resolver: failingResolver{t}})
			if err != nil {
				t.Fatal(err)
			}
			if g, err = g.WithExceptions(tc.exceptions...); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{DialContext: g.DialContext, Proxy: nil}}
			defer client.CloseIdleConnections()
			resp, err := client.Get(srv.URL)
			if tc.wantErr != "" {
				if domain.CodeOf(err) != tc.wantErr {
					t.Fatalf("err = %v, want code %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "upstream" {
				t.Fatalf("body %q", body)
			}
		})
	}
}

func TestWithExceptions_invalid(t *testing.T) {
	g, _ := New(Options{})
	tests := []struct{ origin, wantText string }{
		{"127.0.0.1", `invalid_network_config: exception "127.0.0.1" is not host:port or a URL`},
		{"ftp://files.internal", `invalid_network_config: exception "ftp://files.internal" has scheme "ftp" and no port`},
		{"http://", `invalid_network_config: exception "http://" is not a valid URL`},
		{"host:99999", `invalid_network_config: exception "host:99999": port "99999" is not a number from 1 to 65535`},
		{"256.0.0.1:80", `invalid_network_config: exception "256.0.0.1:80": invalid_host: host "256.0.0.1" ends in a number but is not a valid IPv4 address`},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			got, err := g.WithExceptions(tc.origin)
			if got != nil {
				t.Fatal("got a guard with an error")
			}
			checkErr(t, err, domain.CodeInvalidNetworkConfig, tc.wantText)
		})
	}
	// The original guard is untouched by a copy's exceptions.
	g2, err := g.WithExceptions("127.0.0.1:8080")
	if err != nil || len(g.exceptions) != 0 || len(g2.exceptions) != 1 {
		t.Fatalf("exceptions leaked: %v %v %v", err, g.exceptions, g2.exceptions)
	}
}

func TestCheckHost(t *testing.T) {
	const hint = "; allow it with AGENT_VAULT_NETWORK_ALLOWLIST or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true"
	tests := []struct {
		name         string
		host         string
		allowPrivate bool
		wantCode     string
		wantText     string
	}{
		{"public-name", "api.openai.com", false, "", ""},
		{"public-ip", "1.1.1.1", false, "", ""},
		{"private-ip", "10.0.0.1", false, domain.CodeDestinationBlocked, "destination_blocked: address 10.0.0.1, in the private range" + hint},
		{"private-ip-allowed", "10.0.0.1", true, "", ""},
		{"private-hex-ip", "0xa000001", false, domain.CodeDestinationBlocked, "destination_blocked: address 10.0.0.1, in the private range" + hint},
		{"localhost", "localhost", false, domain.CodeDestinationBlocked, `destination_blocked: host "localhost" resolves to an address that is not public` + hint},
		{"sub-localhost", "app.localhost", false, domain.CodeDestinationBlocked, `destination_blocked: host "app.localhost" resolves to an address that is not public` + hint},
		{"localhost-allowed", "localhost", true, "", ""},
		{"metadata-allowed-private", "169.254.169.254", true, domain.CodeDestinationBlocked, "destination_blocked: address 169.254.169.254, a cloud metadata endpoint (instance metadata), which is always blocked"},
		{"invalid", "1.2.3.4.5", false, domain.CodeInvalidHost, `invalid_host: host "1.2.3.4.5" ends in a number but is not a valid IPv4 address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHost(tc.host, tc.allowPrivate)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("CheckHost(%q) = %v", tc.host, err)
				}
				return
			}
			checkErr(t, err, tc.wantCode, tc.wantText)
		})
	}
	// The method form also consults pins and the allowlist.
	g, err := New(Options{
		Pins:      map[string][]netip.Addr{"pinned.example": {netip.MustParseAddr("10.0.0.5")}},
		AllowNets: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, g.CheckHost("pinned.example"), domain.CodeDestinationBlocked,
		`destination_blocked: host "pinned.example" resolves to an address that is not public`+hint)
	if err := g.CheckHost("192.168.3.4"); err != nil {
		t.Fatalf("allowlisted literal refused: %v", err)
	}
}

func TestNew_invalid(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantText string
	}{
		{"bad-prefix", Options{AllowNets: []netip.Prefix{{}}}, "invalid_network_config: allowlist range invalid Prefix is not valid"},
		{"bad-host", Options{AllowHosts: []string{"a..b"}}, `invalid_network_config: allowlist entry "a..b": invalid_host: host "a..b" has an empty label or one longer than 63 characters`},
		{"ip-host", Options{AllowHosts: []string{"10.0.0.1"}}, `invalid_network_config: allowlist entry "10.0.0.1" is an address; list it as a range`},
		{"pin-ip-name", Options{Pins: map[string][]netip.Addr{"10.0.0.1": {netip.MustParseAddr("10.0.0.2")}}}, `invalid_network_config: pinned name "10.0.0.1" is an address, not a name`},
		{"pin-bad-addr", Options{Pins: map[string][]netip.Addr{"a.example": {{}}}}, `invalid_network_config: pinned address for "a.example" is not valid`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.opts)
			if g != nil {
				t.Fatal("got a guard with an error")
			}
			checkErr(t, err, domain.CodeInvalidNetworkConfig, tc.wantText)
		})
	}
}

func TestClassify_noOverlapSurprises(t *testing.T) {
	// Every metadata address is also inside a special range or public; the
	// metadata verdict must win in all cases.
	for a := range metadataAddrs {
		if c, _ := classify(a); c != classMetadata {
			t.Errorf("%s classified %v", a, c)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "2606:4700::1111", "100.63.255.255", "100.128.0.0", "172.32.0.1", "192.169.0.1"} {
		if c, name := classify(netip.MustParseAddr(s)); c != classPublic {
			t.Errorf("%s classified %s", s, name)
		}
	}
}
