package plugin

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

func TestParseGrants(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	got, err := ParseGrants([]byte(`{"plugins":{"acme":{"sha256":"` + strings.ToUpper(sha) + `","env":["ACME_TOKEN"],
		"files":["/etc/acme/../acme/token"],"http_origins":["https://API.acme.example/v1"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Grant{"acme": {SHA256: sha, Env: []string{"ACME_TOKEN"}, Files: []string{"/etc/acme/token"}, HTTPOrigins: []string{"https://api.acme.example:443"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseGrants_invalid(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"unknown-field", `{"plugins":{"a":{"envs":[]}}}`, `not a valid grants file: json: unknown field "envs"`},
		{"trailing", `{"plugins":{}} {}`, `not a valid grants file: trailing data after the JSON object`},
		{"bad-kind", `{"plugins":{"Acme":{}}}`, `plugin "Acme": a kind must match ^[a-z][a-z0-9_-]{0,31}$`},
		{"bad-sha", `{"plugins":{"a":{"sha256":"abc"}}}`, `plugin "a": sha256 must be 64 hex digits`},
		{"reserved-env", `{"plugins":{"a":{"env":["AGENT_VAULT_MASTER_PASSWORD"]}}}`, `plugin "a": env AGENT_VAULT_MASTER_PASSWORD: AGENT_VAULT_* variables are the host's own and are never granted`},
		{"bad-env", `{"plugins":{"a":{"env":["lower"]}}}`, `plugin "a": env "lower" is not a variable name`},
		{"relative-file", `{"plugins":{"a":{"files":["token"]}}}`, `plugin "a": file "token" must be an absolute path`},
		{"proc-file", `{"plugins":{"a":{"files":["/proc/self/environ"]}}}`, `plugin "a": file /proc/self/environ is under /proc or /sys, which no plugin may read`},
		{"proc-dotdot", `{"plugins":{"a":{"files":["/etc/../proc/1/environ"]}}}`, `plugin "a": file /proc/1/environ is under /proc or /sys, which no plugin may read`},
		{"sys-file", `{"plugins":{"a":{"files":["/sys/kernel/x"]}}}`, `plugin "a": file /sys/kernel/x is under /proc or /sys, which no plugin may read`},
		{"bad-origin", `{"plugins":{"a":{"http_origins":["ftp://x"]}}}`, `plugin "a": http_origins: origin "ftp://x": scheme must be http or https`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGrants([]byte(tc.in))
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func TestResolveGrant(t *testing.T) {
	m := abi.Manifest{
		Kind:           "acme",
		Env:            []abi.EnvVar{{Name: "ACME_URL"}, {Name: "ACME_TOKEN"}, {Name: "OTHER"}},
		HTTPOrigins:    []string{"https://fixed.example"},
		HTTPOriginsEnv: "ACME_URL",
	}
	env := envMap(map[string]string{"ACME_URL": "http://10.0.0.5:8200,https://fixed.example"})
	tests := []struct {
		name         string
		op           *Grant
		shipped      bool
		wantEnv      []string
		wantOrigins  []string
		wantExempt   []string
		wantNotGiven []string
	}{
		{name: "shipped-default", shipped: true, wantEnv: []string{"ACME_TOKEN", "ACME_URL", "OTHER"},
			wantOrigins: []string{"https://fixed.example:443", "http://10.0.0.5:8200"}, wantExempt: []string{"http://10.0.0.5:8200"}},
		{name: "third-party-nothing", op: &Grant{}, wantNotGiven: []string{"env ACME_URL", "env ACME_TOKEN", "env OTHER", "origin https://fixed.example:443"}},
		{name: "third-party-some", op: &Grant{Env: []string{"ACME_URL", "ACME_TOKEN"}, HTTPOrigins: []string{"http://10.0.0.5:8200"}},
			wantEnv: []string{"ACME_TOKEN", "ACME_URL"}, wantOrigins: []string{"http://10.0.0.5:8200"}, wantExempt: []string{"http://10.0.0.5:8200"},
			wantNotGiven: []string{"env OTHER", "origin https://fixed.example:443"}},
		{name: "shipped-overridden", shipped: true, op: &Grant{Env: []string{"ACME_TOKEN"}},
			wantEnv: []string{"ACME_TOKEN"}, wantNotGiven: []string{"env ACME_URL", "env OTHER", "origin https://fixed.example:443"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := resolveGrant(m, tc.op, tc.shipped, env)
			if err != nil {
				t.Fatal(err)
			}
			var gotEnv []string
			for _, e := range []string{"ACME_TOKEN", "ACME_URL", "OTHER"} {
				if g.env[e] {
					gotEnv = append(gotEnv, e)
				}
			}
			if !reflect.DeepEqual(gotEnv, tc.wantEnv) || !reflect.DeepEqual(g.origins, tc.wantOrigins) ||
				!reflect.DeepEqual(g.exempt, tc.wantExempt) || !reflect.DeepEqual(g.notGiven, tc.wantNotGiven) {
				t.Fatalf("env %v origins %v exempt %v notGiven %v", gotEnv, g.origins, g.exempt, g.notGiven)
			}
		})
	}
}

// TestReadGrantedFile: a file reaches a plugin only when granted, and never
// from /proc, /sys or a denied tree, also not through a symlink, a granted
// path under a symlinked directory, or a shipped plugin's any-file default.
func TestReadGrantedFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	secret := filepath.Join(data, "agent-vault.db")
	writeFile(t, secret, []byte("sealed"))
	ok := filepath.Join(dir, "token")
	writeFile(t, ok, []byte("jwt"))
	linkToProc := filepath.Join(dir, "environ")
	os.Symlink("/proc/self/environ", linkToProc)
	linkToData := filepath.Join(dir, "db")
	os.Symlink(secret, linkToData)
	procDir := filepath.Join(dir, "procdir")
	os.Symlink("/proc/self", procDir)
	deny := []string{data}
	tests := []struct {
		name, path string
		g          *grant
		want       string // content, or the error's text
	}{
		{"granted", ok, &grant{files: map[string]bool{ok: true}}, "jwt"},
		{"not-granted", ok, &grant{files: map[string]bool{}}, ok + " is not granted to this plugin"},
		{"relative", "token", &grant{anyFile: true}, "token is not an absolute path"},
		{"proc", "/proc/self/environ", &grant{anyFile: true}, "/proc/self/environ is in a directory no plugin may read"},
		{"proc-granted-anyway", "/proc/self/environ", &grant{files: map[string]bool{"/proc/self/environ": true}}, "/proc/self/environ is in a directory no plugin may read"},
		{"symlink-to-proc", linkToProc, &grant{files: map[string]bool{linkToProc: true}}, linkToProc + " is in a directory no plugin may read"},
		{"dir-symlink-to-proc", procDir + "/environ", &grant{anyFile: true}, procDir + "/environ is in a directory no plugin may read"},
		{"data-dir", secret, &grant{files: map[string]bool{secret: true}}, secret + " is in a directory no plugin may read"},
		{"symlink-to-data-dir", linkToData, &grant{anyFile: true}, linkToData + " is in a directory no plugin may read"},
		{"sys", "/sys/kernel/hostname", &grant{anyFile: true}, "/sys/kernel/hostname is in a directory no plugin may read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.g.readGrantedFile(tc.path, deny)
			got := string(b)
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestScrubValues(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cr3t-token", "URL": "https://vault.example", "SHORT": "abc"}
	got := scrubValues("login with s3cr3t-token at https://vault.example failed (abc)", env, "URL")
	if want := "login with [redacted:TOKEN] at https://vault.example failed (abc)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A value that contains another goes whole, whatever the map order.
	nested := map[string]string{"LONG": "prefix-secret-suffix", "SHORT": "secret"}
	for range 20 {
		if got := scrubValues("x prefix-secret-suffix y secret", nested, ""); got != "x [redacted:LONG] y [redacted:SHORT]" {
			t.Fatalf("got %q", got)
		}
	}
}

// TestGrantsDocExample keeps the grants file shown in sdk/README.md valid.
func TestGrantsDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../sdk/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```json\n{\"plugins\"")
	if !ok {
		t.Fatal("sdk/README.md has no ```json grants example")
	}
	example, _, _ := strings.Cut(rest, "```")
	g, err := ParseGrants([]byte(`{"plugins"` + example))
	if err != nil {
		t.Fatalf("the sdk/README.md grants example does not parse: %v", err)
	}
	if len(g["jsonurl"].Env) == 0 || len(g["jsonurl"].Files) == 0 || len(g["jsonurl"].HTTPOrigins) == 0 || g["jsonurl"].SHA256 == "" {
		t.Fatalf("the example grants too little to show every field: %+v", g)
	}
}

func TestScrubGiven(t *testing.T) {
	ctx := withGiven(context.Background(), map[string]string{"TOKEN": "s3cr3t-token"}, "")
	if got := scrubGiven(ctx, "token=s3cr3t-token"); got != "token=[redacted:TOKEN]" {
		t.Fatalf("got %q", got)
	}
	if got := scrubGiven(context.Background(), "token=s3cr3t-token"); got != "token=s3cr3t-token" {
		t.Fatalf("without a call: got %q", got)
	}
}

// FuzzParseGrants: whatever a grants file says, what parses never grants an
// AGENT_VAULT_* variable or a path under /proc or /sys, and its origins are
// canonical.
func FuzzParseGrants(f *testing.F) {
	f.Add(`{"plugins":{"acme":{"sha256":"` + strings.Repeat("a", 64) + `","env":["ACME_TOKEN"],"files":["/etc/acme/token"],"http_origins":["https://acme.example"]}}}`)
	f.Add(`{"plugins":{"a":{"files":["/etc/../proc/self/environ"],"env":["AGENT_VAULT_X"]}}}`)
	f.Add(`{"plugins":{"a":{"files":["//proc/1/mem","/sys/"]}}}`)
	f.Add(`{"plugins":{}}`)
	f.Fuzz(func(t *testing.T, in string) {
		g, err := ParseGrants([]byte(in))
		if err != nil {
			return
		}
		for kind, e := range g {
			for _, name := range e.Env {
				if strings.HasPrefix(name, ReservedEnvPrefix) {
					t.Fatalf("%s: granted %s", kind, name)
				}
			}
			for _, p := range e.Files {
				if under(p, alwaysDeniedPaths) || !filepath.IsAbs(p) {
					t.Fatalf("%s: granted file %q", kind, p)
				}
			}
			for _, o := range e.HTTPOrigins {
				if c, err := abi.ParseOrigin(o); err != nil || c != o {
					t.Fatalf("%s: origin %q is not canonical (%q, %v)", kind, o, c, err)
				}
			}
		}
	})
}
