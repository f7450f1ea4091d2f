package plugin

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// fallbackManifest reads its address from ACME_ADDR, else VAULT_ADDR, else
// LEGACY_ADDR, and its token from ACME_TOKEN, else VAULT_TOKEN.
var fallbackManifest = abi.Manifest{
	Kind: "acme",
	Env: []abi.EnvVar{
		{Name: "ACME_ADDR", Required: true, Fallback: []string{"VAULT_ADDR", "LEGACY_ADDR"}},
		{Name: "ACME_TOKEN", Fallback: []string{"VAULT_TOKEN"}},
	},
	HTTPOriginsEnv: "ACME_ADDR",
}

// TestFallbackResolution: the first set name among an entry's granted
// names, in the manifest's order, supplies both the origin grant and the
// value the plugin receives (under the entry's name); a name the operator
// did not grant is never read.
func TestFallbackResolution(t *testing.T) {
	all := []string{"ACME_ADDR", "VAULT_ADDR", "LEGACY_ADDR", "ACME_TOKEN", "VAULT_TOKEN"}
	tests := []struct {
		name        string
		env         map[string]string
		op          *Grant // nil: shipped default
		wantOrigins []string
		wantEnv     map[string]string
		wantErr     string // from Plugin.env
	}{
		{name: "primary-only", env: map[string]string{"ACME_ADDR": "https://a.example", "ACME_TOKEN": "tok-acme"},
			wantOrigins: []string{"https://a.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://a.example", "ACME_TOKEN": "tok-acme"}},
		{name: "fallback-only", env: map[string]string{"VAULT_ADDR": "http://10.0.0.5:8200", "VAULT_TOKEN": "tok-vault"},
			wantOrigins: []string{"http://10.0.0.5:8200"}, wantEnv: map[string]string{"ACME_ADDR": "http://10.0.0.5:8200", "ACME_TOKEN": "tok-vault"}},
		{name: "primary-wins", env: map[string]string{"ACME_ADDR": "https://a.example", "VAULT_ADDR": "https://v.example", "ACME_TOKEN": "tok-acme", "VAULT_TOKEN": "tok-vault"},
			wantOrigins: []string{"https://a.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://a.example", "ACME_TOKEN": "tok-acme"}},
		{name: "empty-primary-falls-through", env: map[string]string{"ACME_ADDR": "", "VAULT_ADDR": "https://v.example"},
			wantOrigins: []string{"https://v.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://v.example"}},
		{name: "order-among-fallbacks", env: map[string]string{"LEGACY_ADDR": "https://l.example", "VAULT_ADDR": "https://v.example"},
			wantOrigins: []string{"https://v.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://v.example"}},
		{name: "last-fallback", env: map[string]string{"LEGACY_ADDR": "https://l.example"},
			wantOrigins: []string{"https://l.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://l.example"}},
		{name: "none-set", env: map[string]string{"VAULT_TOKEN": "tok-vault"},
			wantErr: "ACME_ADDR or VAULT_ADDR or LEGACY_ADDR, which is not set"},
		{name: "operator-grants-fallback", env: map[string]string{"VAULT_ADDR": "http://10.0.0.5:8200", "VAULT_TOKEN": "tok-vault"},
			op:          &Grant{Env: []string{"VAULT_ADDR", "VAULT_TOKEN"}, HTTPOrigins: []string{"http://10.0.0.5:8200"}},
			wantOrigins: []string{"http://10.0.0.5:8200"}, wantEnv: map[string]string{"ACME_ADDR": "http://10.0.0.5:8200", "ACME_TOKEN": "tok-vault"}},
		// Granting the primary name does not grant its fallbacks: VAULT_*
		// stay unread, so neither the origin nor the token comes from them.
		{name: "ungranted-fallback-unread", env: map[string]string{"VAULT_ADDR": "http://10.0.0.5:8200", "VAULT_TOKEN": "tok-vault"},
			op:      &Grant{Env: []string{"ACME_ADDR", "ACME_TOKEN"}, HTTPOrigins: []string{"http://10.0.0.5:8200"}},
			wantErr: "ACME_ADDR or VAULT_ADDR or LEGACY_ADDR, which is not set"},
		// An ungranted primary is skipped in favour of a granted fallback.
		{name: "ungranted-primary-skipped", env: map[string]string{"ACME_ADDR": "https://a.example", "VAULT_ADDR": "https://v.example"},
			op:          &Grant{Env: []string{"VAULT_ADDR"}, HTTPOrigins: []string{"https://v.example", "https://a.example"}},
			wantOrigins: []string{"https://v.example:443"}, wantEnv: map[string]string{"ACME_ADDR": "https://v.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := envMap(tc.env)
			g, err := resolveGrant(fallbackManifest, tc.op, tc.op == nil, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.origins, tc.wantOrigins) {
				t.Fatalf("origins %v, want %v", g.origins, tc.wantOrigins)
			}
			p := &Plugin{rt: &Runtime{cfg: Config{Env: getenv, Logger: slog.New(slog.DiscardHandler)}}, manifest: fallbackManifest, grant: g}
			got, err := p.env()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.wantEnv) {
				t.Fatalf("env %v, want %v", got, tc.wantEnv)
			}
			for _, n := range all {
				if !g.env[n] && tc.op == nil {
					t.Fatalf("shipped default does not grant %s", n)
				}
			}
		})
	}
}

// TestFallbackReserved: a fallback name is a request like any other, so an
// AGENT_VAULT_* fallback makes the plugin refused at load.
func TestFallbackReserved(t *testing.T) {
	m := abi.Manifest{Env: []abi.EnvVar{{Name: "ACME_KEY", Fallback: []string{"AGENT_VAULT_MASTER_PASSWORD"}}}}
	if got := reservedRequests(m); !reflect.DeepEqual(got, []string{"AGENT_VAULT_MASTER_PASSWORD"}) {
		t.Fatalf("reserved %v", got)
	}
}
