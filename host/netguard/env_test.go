package netguard

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

func TestFromEnv(t *testing.T) {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		env  map[string]string
		want Options
	}{
		{"empty", nil, Options{Pins: map[string][]netip.Addr{}}},
		{"allow-private", map[string]string{EnvAllowPrivate: "true"}, Options{AllowPrivate: true, Pins: map[string][]netip.Addr{}}},
		{"allow-private-false", map[string]string{EnvAllowPrivate: " 0 "}, Options{Pins: map[string][]netip.Addr{}}},
		{"allowlist", map[string]string{EnvAllowlist: " 10.0.0.0/8, 192.168.1.7 ,Vault.Internal.,*.corp.example,,fd00::/8,10.1.2.3/16,::ffff:10.0.0.0/104,[::1]"},
			Options{
				AllowNets:  []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.1.7/32"), pfx("fd00::/8"), pfx("10.1.0.0/16"), pfx("10.0.0.0/8"), pfx("::1/128")},
				AllowHosts: []string{"vault.internal", "*.corp.example"},
				Pins:       map[string][]netip.Addr{},
			}},
		{"resolve", map[string]string{EnvResolve: "API.example.com:10.0.0.5, api.example.com:[fd00::5],other.test:::1,mapped.test:::ffff:1.2.3.4"},
			Options{Pins: map[string][]netip.Addr{
				"api.example.com": {addr("10.0.0.5"), addr("fd00::5")},
				"other.test":      {addr("::1")},
				"mapped.test":     {addr("1.2.3.4")},
			}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromEnv(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("FromEnv = %+v\nwant %+v", got, tc.want)
			}
			if _, err := New(got); err != nil {
				t.Fatalf("New(FromEnv(...)) = %v", err)
			}
		})
	}
}

func TestFromEnv_invalid(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantField string
		wantText  string
	}{
		{"bool", map[string]string{EnvAllowPrivate: "maybe"}, EnvAllowPrivate, `invalid_network_config: AGENT_VAULT_ALLOW_PRIVATE_RANGES: "maybe" is not a boolean; use true or false`},
		{"cidr", map[string]string{EnvAllowlist: "10.0.0.0/33"}, EnvAllowlist, `invalid_network_config: AGENT_VAULT_NETWORK_ALLOWLIST: "10.0.0.0/33" is not a CIDR range`},
		{"host", map[string]string{EnvAllowlist: "ok.example,bad host"}, EnvAllowlist, `invalid_network_config: AGENT_VAULT_NETWORK_ALLOWLIST: "bad host" is not a CIDR range, an address or a host name`},
		{"wildcard-ip", map[string]string{EnvAllowlist: "*.10.0.0.1"}, EnvAllowlist, `invalid_network_config: AGENT_VAULT_NETWORK_ALLOWLIST: "*.10.0.0.1" is not a CIDR range, an address or a host name`},
		{"metadata", map[string]string{EnvAllowlist: "169.254.169.254"}, EnvAllowlist, `invalid_network_config: AGENT_VAULT_NETWORK_ALLOWLIST: 169.254.169.254 is a cloud metadata endpoint (instance metadata) and is always blocked`},
		{"metadata-hex", map[string]string{EnvAllowlist: "0xa9fea9fe"}, EnvAllowlist, `invalid_network_config: AGENT_VAULT_NETWORK_ALLOWLIST: 169.254.169.254 is a cloud metadata endpoint (instance metadata) and is always blocked`},
		{"resolve-no-colon", map[string]string{EnvResolve: "api.example.com"}, EnvResolve, `invalid_network_config: AGENT_VAULT_RESOLVE: "api.example.com" is not name:address`},
		{"resolve-empty-addr", map[string]string{EnvResolve: "api.example.com:"}, EnvResolve, `invalid_network_config: AGENT_VAULT_RESOLVE: "api.example.com:" is not name:address`},
		{"resolve-bad-addr", map[string]string{EnvResolve: "api.example.com:10.0.0.256"}, EnvResolve, `invalid_network_config: AGENT_VAULT_RESOLVE: "api.example.com:10.0.0.256": "10.0.0.256" is not an IP address`},
		{"resolve-legacy-addr", map[string]string{EnvResolve: "api.example.com:127.1"}, EnvResolve, `invalid_network_config: AGENT_VAULT_RESOLVE: "api.example.com:127.1": "127.1" is not an IP address`},
		{"resolve-ip-name", map[string]string{EnvResolve: "10.0.0.1:10.0.0.2"}, EnvResolve, `invalid_network_config: AGENT_VAULT_RESOLVE: "10.0.0.1:10.0.0.2": the name is not a valid host name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromEnv(func(k string) string { return tc.env[k] })
			checkErr(t, err, domain.CodeInvalidNetworkConfig, tc.wantText)
			if f := err.(*domain.Error).Field; f != tc.wantField {
				t.Fatalf("Field = %q, want %q", f, tc.wantField)
			}
		})
	}
}

func FuzzFromEnv(f *testing.F) {
	f.Add("true", "10.0.0.0/8,vault.internal,*.corp.example", "api.example.com:10.0.0.5")
	f.Add("1", "::ffff:10.0.0.0/104,[::1]", "a.test:[fd00::5],b.test:::1")
	f.Add("no", "0xa9fea9fe", "x:y")
	f.Add("", ",,", ":")
	f.Fuzz(func(t *testing.T, allow, list, resolve string) {
		env := map[string]string{EnvAllowPrivate: allow, EnvAllowlist: list, EnvResolve: resolve}
		o, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			if domain.CodeOf(err) != domain.CodeInvalidNetworkConfig {
				t.Fatalf("error without the invalid_network_config code: %v", err)
			}
			return
		}
		// Whatever parses must build a guard, and metadata stays blocked.
		g, err := New(o)
		if err != nil {
			t.Fatalf("New rejected parsed options: %v", err)
		}
		if g.CheckHost("169.254.169.254") == nil || g.CheckHost("fd00:ec2::254") == nil {
			t.Fatal("metadata allowed")
		}
	})
}
