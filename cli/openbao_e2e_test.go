package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// TestOpenBaoStoreConfigFlags creates and connects OpenBao-backed vaults
// with the generic --store-config flags, typed by the plugin's schema,
// against the real binary and the OpenBao emulator.
func TestOpenBaoStoreConfigFlags(t *testing.T) {
	if _, err := os.Stat("../plugins/dist/openbao.wasm"); err != nil {
		t.Skip("the openbao plugin is not built (make plugins)")
	}
	emu := openbaotest.New(t)
	emu.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid-secret", Policies: []string{"*"}, TTL: time.Hour})
	emu.PutSecret("", "secret", "app/stripe", map[string]any{"STRIPE_KEY": "sk_test_from_openbao"})
	emu.PutSecret("", "secret", "app/stripe/db", map[string]any{"DB_URL": "postgres://from-openbao"})
	s := startServer(t, newDataDir(t), "OPENBAO_ADDR="+emu.URL(), "OPENBAO_ROLE_ID=rid", "OPENBAO_SECRET_ID=sid-secret", "AGENT_VAULT_ALLOW_PRIVATE_RANGES=true")
	o := newOperator(t, s.URL)
	cfgFile := filepath.Join(t.TempDir(), "cfg.json")
	os.WriteFile(cfgFile, []byte(`{"mount":"secret","path":"app/stripe","recursive":false}`), 0o600)

	steps := []struct {
		args     []string
		wantExit int
		want     []string // substrings of stdout+stderr
	}{
		{[]string{"register", "--email", "owner@example.com", "--password-stdin"}, 0, nil},
		{[]string{"vault", "create", "bao-app", "--credential-store=openbao", "--store-config", "mount=secret", "--store-config", "path=app/stripe", "--store-config", "recursive=true"}, 0,
			[]string{"Created vault bao-app (openbao credential store)."}},
		{[]string{"vault", "credential-store", "show", "bao-app"}, 0, []string{"kind ", "openbao", "mount ", "secret", "path ", "app/stripe", "recursive ", "true", "credentials ", "2"}},
		{[]string{"vault", "create", "bad-bool", "--credential-store=openbao", "--store-config", "mount=secret", "--store-config", "path=x", "--store-config", "recursive=maybe"}, 2,
			[]string{`--store-config recursive: want true or false, got "maybe"`}},
		{[]string{"vault", "create", "bad-field", "--credential-store=openbao", "--store-config", "project_id=x"}, 2,
			[]string{`the openbao config has no field "project_id"`}},
		{[]string{"vault", "create", "bad-path", "--credential-store=openbao", "--store-config", "mount=secret", "--store-config", "path=a/../b"}, 1,
			[]string{"path: must be a plain path"}},
		{[]string{"vault", "create", "no-secret", "--credential-store=openbao", "--store-config", "mount=secret", "--store-config", "path=nope"}, 1,
			[]string{"external_store_not_found"}},
		{[]string{"vault", "create", "file-app", "--credential-store=openbao", "--store-config-file", cfgFile}, 0, nil},
		{[]string{"vault", "credential", "list", "--vault=file-app"}, 0, []string{"STRIPE_KEY"}},
		{[]string{"vault", "create", "local-app"}, 0, nil},
		{[]string{"vault", "credential-store", "set", "local-app", "--kind=openbao", "--store-config", "mount=secret", "--store-config", "path=app/stripe/db", "--yes"}, 0,
			[]string{"Vault local-app now uses the openbao credential store."}},
		{[]string{"vault", "credential", "list", "--vault=local-app"}, 0, []string{"DB_URL"}},
	}
	for _, st := range steps {
		stdin := ""
		if st.args[0] == "register" {
			stdin = "password1\n"
		}
		stdout, stderr, code := o.run(nil, stdin, nil, st.args...)
		line := strings.Join(st.args, " ")
		if code != st.wantExit {
			t.Errorf("%s: exit %d, want %d\n%s%s", line, code, st.wantExit, stdout, stderr)
		}
		for _, w := range st.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%s: output lacks %q:\n%s%s", line, w, stdout, stderr)
			}
		}
		for _, secret := range []string{"sk_test_", "postgres://", "sid-secret"} {
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("%s: output shows a secret (%s…)", line, secret)
			}
		}
	}
}
