package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestPluginGrants_wiring: the grants file is read and checked at start, a
// bad one stops the server with invalid_plugin_grants, shipped kinds are
// reserved, and the data directory is denied to plugins.
func TestPluginGrants_wiring(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shipped := map[string][]byte{"builtin": nil, "infisical": nil}
	env := func(string) string { return "" }
	tests := []struct {
		name, grants, wantCode string
	}{
		{name: "none"},
		{name: "valid", grants: write("ok.json", `{"plugins":{"acme":{"sha256":"`+string(make64('a'))+`","env":["ACME_TOKEN"]}}}`)},
		{name: "reserved-env", grants: write("bad.json", `{"plugins":{"acme":{"env":["AGENT_VAULT_MASTER_PASSWORD"]}}}`), wantCode: domain.CodeInvalidPluginGrants},
		{name: "missing-file", grants: filepath.Join(dir, "nope.json"), wantCode: domain.CodeInvalidPluginGrants},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := pluginGrants(Config{DataDir: dir, PluginGrantsFile: tc.grants}, env, shipped)
			if tc.wantCode != "" {
				if domain.CodeOf(err) != tc.wantCode {
					t.Fatalf("err = %v, want code %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(pc.ReservedKinds)
			if !slices.Equal(pc.ReservedKinds, []string{"builtin", "infisical"}) || !slices.Contains(pc.DenyPaths, dir) || pc.Guard == nil {
				t.Fatalf("config %+v", pc)
			}
		})
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}
