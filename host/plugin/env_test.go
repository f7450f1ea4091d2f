package plugin

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// TestReadEnv covers the manifest env rules: defaults, required variables
// and file variables, whose content is passed instead of their path.
func TestReadEnv(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("jwt-content"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", abi.MaxEnvFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name           string
		vars           []abi.EnvVar
		env            map[string]string
		want           map[string]string
		wantUnreadable []string
		wantRequired   string
	}{
		{name: "plain", vars: []abi.EnvVar{{Name: "A"}, {Name: "B"}}, env: map[string]string{"A": "1"}, want: map[string]string{"A": "1"}},
		{name: "required-unset", vars: []abi.EnvVar{{Name: "A", Required: true}}, wantRequired: "A"},
		{name: "default", vars: []abi.EnvVar{{Name: "A", Default: "d"}}, want: map[string]string{"A": "d"}},
		{name: "default-overridden", vars: []abi.EnvVar{{Name: "A", Default: "d"}}, env: map[string]string{"A": "set"}, want: map[string]string{"A": "set"}},
		{name: "file-content", vars: []abi.EnvVar{{Name: "T", File: true}}, env: map[string]string{"T": token}, want: map[string]string{"T": "jwt-content"}},
		{name: "file-default", vars: []abi.EnvVar{{Name: "T", File: true, Default: token}}, want: map[string]string{"T": "jwt-content"}},
		{name: "file-default-unreadable", vars: []abi.EnvVar{{Name: "T", File: true, Default: missing}}, want: map[string]string{}},
		{name: "file-set-unreadable", vars: []abi.EnvVar{{Name: "T", File: true}}, env: map[string]string{"T": missing}, want: map[string]string{"T": ""}, wantUnreadable: []string{"T"}},
		{name: "file-too-large", vars: []abi.EnvVar{{Name: "T", File: true}}, env: map[string]string{"T": big}, want: map[string]string{"T": ""}, wantUnreadable: []string{"T"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, perr := readEnv(tc.vars, envMap(tc.env), func(p string) ([]byte, error) { return (&grant{anyFile: true}).readGrantedFile(p, nil) })
			if tc.wantRequired != "" {
				if perr == nil || perr.name != tc.wantRequired {
					t.Fatalf("got %v, want required %s", perr, tc.wantRequired)
				}
				return
			}
			if perr != nil {
				t.Fatalf("unexpected required error for %s", perr.name)
			}
			if !reflect.DeepEqual(got.vars, tc.want) {
				t.Fatalf("vars %v, want %v", got.vars, tc.want)
			}
			var names []string
			for _, u := range got.unreadable {
				names = append(names, u.name)
				if strings.Contains(u.reason, "xxxx") {
					t.Fatalf("reason leaks file content: %s", u.reason)
				}
			}
			if !reflect.DeepEqual(names, tc.wantUnreadable) {
				t.Fatalf("unreadable %v, want %v", names, tc.wantUnreadable)
			}
		})
	}
}

// TestReadEnv_readError: a read failure other than a missing file is
// reported the same way.
func TestReadEnv_readError(t *testing.T) {
	got, _ := readEnv([]abi.EnvVar{{Name: "T", File: true}}, envMap(map[string]string{"T": "/p"}),
		func(string) ([]byte, error) { return nil, errors.New("permission denied") })
	if len(got.unreadable) != 1 || got.unreadable[0].reason != "permission denied" || got.vars["T"] != "" {
		t.Fatalf("got %+v", got)
	}
}
