//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
	"github.com/agent-vault/agent-vault/sdk"
)

// These tests run the plugin's code natively (sdk.Fetch then sends
// requests directly) against the emulator.

// reset forgets the cached token and uses emu's clock.
func reset(t *testing.T, emu *openbaotest.Emulator) {
	sessMu.Lock()
	sess, announced = nil, ""
	sessMu.Unlock()
	clock = emu.Clock().Now
	t.Cleanup(func() { clock = sdk.Now })
}

func env(emu *openbaotest.Emulator, kv ...string) map[string]string {
	m := map[string]string{envAddr: emu.URL(), envRoleID: "rid", envSecretID: "sid"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

func codeOf(err error) string {
	if e, ok := err.(*sdk.Error); ok {
		return e.Code
	}
	if err != nil {
		return "untyped: " + err.Error()
	}
	return ""
}

// TestPluginImportsOnlySDK holds the plugin to what a third-party author
// has: nothing of the host, only the SDK (and the standard library).
func TestPluginImportsOnlySDK(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/agent-vault/agent-vault/"
	for _, dep := range strings.Fields(string(out)) {
		if !strings.Contains(dep, ".") || !strings.HasPrefix(dep, module) {
			if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
				t.Errorf("the plugin imports %s: only the SDK and the standard library are allowed", dep)
			}
			continue
		}
		if rest := strings.TrimPrefix(dep, module); !strings.HasPrefix(rest, "sdk") && rest != "plugins/openbao" {
			t.Errorf("the plugin imports %s: only %ssdk/... is allowed", dep, module)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    config
		wantErr string
	}{
		{"minimal", `{"mount":"secret","path":"app"}`, config{Mount: "secret", Path: "app", KVVersion: 2}, ""},
		{"slashes-trimmed", `{"mount":"/secret/","path":"/app/stripe/","namespace":"team-a/"}`, config{Mount: "secret", Path: "app/stripe", KVVersion: 2, Namespace: "team-a"}, ""},
		{"kv1-number", `{"mount":"kv","path":"a","kv_version":1,"recursive":true}`, config{Mount: "kv", Path: "a", KVVersion: 1, Recursive: true}, ""},
		{"roles", `{"mount":"secret","path":"a","dynamic_roles":["pg-role=database/creds/ro","database/creds/rw"]}`,
			config{Mount: "secret", Path: "a", KVVersion: 2, Roles: []role{{"pg-role", "database/creds/ro"}, {"rw", "database/creds/rw"}}}, ""},
		{"missing-mount", `{"path":"a"}`, config{}, "mount: required"},
		{"missing-path", `{"mount":"secret"}`, config{}, "path: required"},
		{"dotdot", `{"mount":"secret","path":"a/../b"}`, config{}, "path: must be a plain path"},
		{"query", `{"mount":"secret","path":"a?list=true"}`, config{}, "path: must be a plain path"},
		{"kv3", `{"mount":"secret","path":"a","kv_version":"3"}`, config{}, "kv_version: must be 1 or 2"},
		{"recursive-string", `{"mount":"secret","path":"a","recursive":"true"}`, config{}, "recursive: must be true or false"},
		{"roles-not-array", `{"mount":"secret","path":"a","dynamic_roles":"x"}`, config{}, "dynamic_roles: must be an array"},
		{"role-no-path", `{"mount":"secret","path":"a","dynamic_roles":["ro"]}`, config{}, "dynamic_roles: \"ro\": the path must be"},
		{"role-dup", `{"mount":"secret","path":"a","dynamic_roles":["a=db/creds/x","A=db/creds/y"]}`, config{}, "two roles are named A"},
		{"unknown", `{"mount":"secret","path":"a","project_id":"x"}`, config{}, `unknown field "project_id"`},
		{"not-object", `[]`, config{}, "must be a JSON object"},
		{"mount-number", `{"mount":1,"path":"a"}`, config{}, "mount: must be a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(json.RawMessage(tc.raw))
			if tc.wantErr != "" {
				if codeOf(err) != sdk.CodeInvalidStoreConfig || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s containing %q", err, sdk.CodeInvalidStoreConfig, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Fatalf("got %s, want %s", g, w)
			}
		})
	}
}

func TestChooseMethodOrder(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    authMethod
		ignored int
	}{
		{"token-first", map[string]string{envToken: "t", envRoleID: "r", envK8sRole: "k", envJWTPath: "j"}, methodToken, 3},
		{"approle", map[string]string{envRoleID: "r", envK8sRole: "k"}, methodAppRole, 1},
		{"kubernetes", map[string]string{envK8sRole: "k", envJWTPath: "j"}, methodKubernetes, 1},
		{"jwt", map[string]string{envJWTPath: "j"}, methodJWT, 0},
		{"jwt-unreadable", map[string]string{envJWTPath: ""}, methodJWT, 0},
		{"blank-token-skipped", map[string]string{envToken: "  ", envRoleID: "r"}, methodAppRole, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ignored, err := chooseMethod(tc.env)
			if err != nil || got != tc.want || len(ignored) != tc.ignored {
				t.Fatalf("got %s %v %v, want %s with %d ignored", got, ignored, err, tc.want, tc.ignored)
			}
		})
	}
	if _, _, err := chooseMethod(map[string]string{}); codeOf(err) != sdk.CodeAuthFailed {
		t.Fatalf("no method: %v", err)
	}
}

func TestLogins(t *testing.T) {
	emu := seed(t)
	emu.AddToken(openbaotest.Token{ID: "tok", Policies: []string{"*"}})
	emu.AddKubernetesRole(openbaotest.LoginRole{Name: "av", JWT: "k8s-jwt", Policies: []string{"*"}, TTL: time.Hour})
	emu.AddJWTRole(openbaotest.LoginRole{Name: "ci", JWT: "ci-jwt", Policies: []string{"*"}, TTL: time.Hour})
	cfg := cfgOf(`"mount":"secret","path":"app/stripe"`)
	tests := []struct {
		name     string
		env      map[string]string
		wantCode string
		logins   string // the method the emulator must have counted
	}{
		{"token", env(emu, envToken, "tok"), "", ""},
		{"approle", env(emu), "", "approle"},
		{"kubernetes", env(emu, envRoleID, "<unset>", envK8sRole, "av", envK8sToken, "k8s-jwt"), "", "kubernetes"},
		{"kubernetes-no-token-file", env(emu, envRoleID, "<unset>", envK8sRole, "av"), sdk.CodeAuthFailed, ""},
		{"kubernetes-wrong-jwt", env(emu, envRoleID, "<unset>", envK8sRole, "av", envK8sToken, "other"), sdk.CodeAuthFailed, ""},
		{"jwt-default-role", env(emu, envRoleID, "<unset>", envJWTPath, "ci-jwt"), "", "jwt"},
		{"jwt-named-role", env(emu, envRoleID, "<unset>", envJWTPath, "ci-jwt", envJWTRole, "ci"), "", "jwt"},
		{"jwt-unreadable", env(emu, envRoleID, "<unset>", envJWTPath, ""), sdk.CodeAuthFailed, ""},
		{"approle-custom-mount", env(emu, envAppRoleAt, "approle-prod2"), "", "approle"},
		{"token-dead", env(emu, envToken, "dead"), sdk.CodeAuthFailed, ""},
		{"sealed", env(emu, envSecretID, "sid"), "", "approle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reset(t, emu)
			before := emu.Counts().Logins
			snap, err := store{}.Sync(context.Background(), sdk.Request{Config: cfg, Env: tc.env})
			if codeOf(err) != tc.wantCode {
				t.Fatalf("err = %v, want code %q", err, tc.wantCode)
			}
			if tc.wantCode == "" && snap["API_KEY"] != "sk_1" {
				t.Fatalf("snapshot keys %v", snap)
			}
			if tc.logins != "" && emu.Counts().Logins[tc.logins] != before[tc.logins]+1 {
				t.Fatalf("%s logins: %d → %d", tc.logins, before[tc.logins], emu.Counts().Logins[tc.logins])
			}
		})
	}
}

func TestLoginUnreachableWhenSealed(t *testing.T) {
	emu := seed(t)
	reset(t, emu)
	emu.Inject(openbaotest.RouteLogin, openbaotest.Status(503).Times(1))
	err := store{}.Probe(context.Background(), sdk.Request{Config: cfgOf(`"mount":"secret","path":"app/stripe"`), Env: env(emu)})
	if codeOf(err) != sdk.CodeUnreachable || !strings.Contains(err.Error(), "Vault is sealed") {
		t.Fatalf("sealed login: %v", err)
	}
}

// TestTokenRenewedBeforeExpiry: a renewable token is renewed through
// renew-self near its expiry instead of logging in again.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	emu := seed(t)
	reset(t, emu)
	ctx, cfg, e := context.Background(), cfgOf(`"mount":"secret","path":"app/stripe"`), env(emu)
	sync := func() {
		t.Helper()
		if _, err := (store{}).Sync(ctx, sdk.Request{Config: cfg, Env: e}); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	emu.Clock().Advance(30 * time.Minute)
	sync()
	if c := emu.Counts(); c.Logins["approle"] != 1 || c.TokenRenewals != 0 {
		t.Fatalf("mid-life: %+v", c)
	}
	emu.Clock().Advance(29*time.Minute + 30*time.Second) // inside the last minute
	sync()
	if c := emu.Counts(); c.Logins["approle"] != 1 || c.TokenRenewals != 1 {
		t.Fatalf("near expiry: want one renewal and no new login, got %+v", c)
	}
}

// TestReloginAfter403: a token the server stopped honouring (403) is
// replaced by a fresh login, once, and the call succeeds.
func TestReloginAfter403(t *testing.T) {
	emu := seed(t)
	reset(t, emu)
	ctx, cfg, e := context.Background(), cfgOf(`"mount":"secret","path":"app/stripe"`), env(emu)
	if _, err := (store{}).Sync(ctx, sdk.Request{Config: cfg, Env: e}); err != nil {
		t.Fatal(err)
	}
	emu.ExpireTokens()
	if _, err := (store{}).Sync(ctx, sdk.Request{Config: cfg, Env: e}); err != nil {
		t.Fatalf("after the token died: %v", err)
	}
	if n := emu.Counts().Logins["approle"]; n != 2 {
		t.Fatalf("logins = %d, want 2", n)
	}
	// A policy denial survives the fresh login and is forbidden, not
	// auth_failed: lookup-self tells them apart.
	_, err := (store{}).Sync(ctx, sdk.Request{Config: cfg, Env: env(emu, envRoleID, "rid-narrow", envSecretID, "sid-narrow")})
	if codeOf(err) != sdk.CodeForbidden {
		t.Fatalf("policy denial: %v", err)
	}
}

func TestSyncShapes(t *testing.T) {
	emu := seed(t)
	emu.PutSecret("", "secret", "tree", map[string]any{"ROOT": "r"})
	emu.PutSecret("", "secret", "tree/a", map[string]any{"A_KEY": "a", "OBJ": map[string]any{"x": 1}, "NULLED": nil})
	emu.PutSecret("", "secret", "tree/b", map[string]any{"B_KEY": "b"})
	emu.PutSecret("", "secret", "tree/gone", map[string]any{"GONE": "g"})
	emu.DeleteSecret("", "secret", "tree/gone")
	emu.PutSecret("", "secret", "tree/deep/c", map[string]any{"DEEP": "too deep"})
	emu.PutSecret("", "secret", "clash", map[string]any{"SAME": "1"})
	emu.PutSecret("", "secret", "clash/x", map[string]any{"SAME": "2"})
	emu.PutSecret("", "secret", "onlykids/x", map[string]any{"KID": "k"})
	emu.PutSecret("", "secret", "versions", map[string]any{"V": "1"})
	emu.PutSecret("", "secret", "versions", map[string]any{"V": "2"})
	emu.MountKV("", "kv", 1)
	emu.PutSecret("", "kv", "legacy", map[string]any{"OLD": "o"})
	emu.PutSecret("", "kv", "legacy/sub", map[string]any{"SUB": "s"})
	emu.CreateNamespace("team-a")
	emu.PutSecret("team-a", "secret", "app", map[string]any{"NS_KEY": "n"})
	tests := []struct {
		name     string
		cfg      string
		want     string // sorted key=value list
		wantCode string
	}{
		{"flat", `"mount":"secret","path":"tree"`, "ROOT=r", ""},
		{"recursive", `"mount":"secret","path":"tree","recursive":true`, `A_KEY=a B_KEY=b OBJ={"x":1} ROOT=r`, ""},
		{"recursive-no-parent", `"mount":"secret","path":"onlykids","recursive":true`, "KID=k", ""},
		{"latest-version", `"mount":"secret","path":"versions"`, "V=2", ""},
		{"clash", `"mount":"secret","path":"clash","recursive":true`, "", sdk.CodeInvalidKey},
		{"kv1", `"mount":"kv","path":"legacy","kv_version":"1"`, "OLD=o", ""},
		{"kv1-recursive", `"mount":"kv","path":"legacy","kv_version":"1","recursive":true`, "OLD=o SUB=s", ""},
		{"kv1-path-on-v2-mount", `"mount":"secret","path":"tree","kv_version":"1"`, "", sdk.CodeNotFound},
		{"namespace", `"mount":"secret","path":"app","namespace":"team-a"`, "NS_KEY=n", ""},
		{"namespace-env", `"mount":"secret","path":"app"`, "NS_KEY=n", ""},
		{"missing", `"mount":"secret","path":"nope"`, "", sdk.CodeNotFound},
		{"deleted", `"mount":"secret","path":"tree/gone"`, "", sdk.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reset(t, emu)
			e := env(emu)
			if tc.name == "namespace-env" {
				e = env(emu, envNamespace, "team-a", envRoleID, "rid-ns")
				emu.AddAppRole(openbaotest.AppRole{RoleID: "rid-ns", SecretID: "sid", Namespace: "team-a", Policies: []string{"*"}, TTL: time.Hour})
			}
			req := sdk.Request{Config: cfgOf(tc.cfg), Env: e}
			err := store{}.Probe(context.Background(), req)
			if codeOf(err) != tc.wantCode {
				t.Fatalf("probe: %v, want code %q", err, tc.wantCode)
			}
			if tc.wantCode != "" {
				return
			}
			snap, err := store{}.Sync(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range sortedKeys(snap) {
				got = append(got, k+"="+snap[k])
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("snapshot %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestSyncFaults(t *testing.T) {
	emu := seed(t)
	cfg := cfgOf(`"mount":"secret","path":"app/stripe"`)
	tests := []struct {
		name     string
		fault    openbaotest.Fault
		route    openbaotest.Route
		wantCode string
	}{
		{"sealed", openbaotest.Status(503), openbaotest.RouteKVRead, sdk.CodeUnreachable},
		{"internal", openbaotest.Status(500), openbaotest.RouteKVRead, sdk.CodeUnreachable},
		{"rate-limited", openbaotest.Status(429), openbaotest.RouteKVRead, sdk.CodeUnreachable},
		{"malformed", openbaotest.Malformed(), openbaotest.RouteKVRead, sdk.CodeUnreachable},
		{"login-down", openbaotest.Status(500), openbaotest.RouteLogin, sdk.CodeUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reset(t, emu)
			emu.ClearFaults()
			emu.Inject(tc.route, tc.fault)
			_, err := store{}.Sync(context.Background(), sdk.Request{Config: cfg, Env: env(emu)})
			if codeOf(err) != tc.wantCode {
				t.Fatalf("err = %v, want %s", err, tc.wantCode)
			}
			if strings.Contains(err.Error(), "sk_1") {
				t.Fatalf("an error carries a value: %v", err)
			}
		})
	}
	emu.ClearFaults()
}

func TestLeases(t *testing.T) {
	emu := seed(t)
	emu.CreateNamespace("team-a")
	emu.AddDatabaseRole("team-a", "database", openbaotest.DBRole{Name: "ro", TTL: time.Hour, MaxTTL: 90 * time.Minute})
	reset(t, emu)
	ctx := context.Background()
	req := sdk.Request{Config: cfgOf(`"mount":"secret","path":"app/stripe","namespace":"team-a","dynamic_roles":["pg-role=database/creds/ro"]`), Env: env(emu)}
	emu.PutSecret("team-a", "secret", "app/stripe", map[string]any{"X": "y"})
	list, err := store{}.ListDynamic(ctx, req)
	if err != nil || len(list) != 1 || list[0].Name != "pg-role" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	l, err := store{}.LeaseCreate(ctx, req, "pg-role")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.LeaseID, "database/creds/ro/") || l.TTLSeconds != 3600 || !l.Renewable ||
		!strings.HasPrefix(l.Values["PG_ROLE_USERNAME"], "v-token-ro-") || l.Values["PG_ROLE_PASSWORD"] == "" || len(l.Values) != 2 {
		t.Fatalf("lease = %+v", l)
	}
	r, err := store{}.LeaseRenew(ctx, req, l.LeaseID)
	if err != nil || r.TTLSeconds != 3600 || r.LeaseID != l.LeaseID {
		t.Fatalf("renew = %+v, %v", r, err)
	}
	// Renewal runs into the role's max TTL: the granted TTL shrinks.
	emu.Clock().Advance(50 * time.Minute)
	r, err = store{}.LeaseRenew(ctx, req, l.LeaseID)
	if err != nil || r.TTLSeconds > 40*60 {
		t.Fatalf("capped renew = %+v, %v", r, err)
	}
	if err := (store{}).LeaseRevoke(ctx, req, l.LeaseID); err != nil {
		t.Fatal(err)
	}
	if err := (store{}).LeaseRevoke(ctx, req, l.LeaseID); codeOf(err) != sdk.CodeLeaseNotFound {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := (store{}).LeaseRenew(ctx, req, l.LeaseID); codeOf(err) != sdk.CodeLeaseNotFound {
		t.Fatalf("renew revoked: %v", err)
	}
	if c := emu.Counts(); c.LeasesMinted != 1 || c.LeasesRenewed != 2 || c.LeasesRevoked != 1 {
		t.Fatalf("counts = %+v", c)
	}
	// A failing revoke is an error the host retries, not a silent success.
	l, _ = store{}.LeaseCreate(ctx, req, "pg-role")
	emu.FailRevokes(true)
	if err := (store{}).LeaseRevoke(ctx, req, l.LeaseID); codeOf(err) != sdk.CodeUnreachable {
		t.Fatalf("failing revoke: %v", err)
	}
	emu.FailRevokes(false)
	// Expired upstream: renew says lease_not_found, so the host re-mints.
	emu.ExpireLease(l.LeaseID)
	if _, err := (store{}).LeaseRenew(ctx, req, l.LeaseID); codeOf(err) != sdk.CodeLeaseNotFound {
		t.Fatalf("renew expired: %v", err)
	}
	// An unknown role upstream.
	bad := sdk.Request{Config: cfgOf(`"mount":"secret","path":"app/stripe","dynamic_roles":["database/creds/nope"]`), Env: env(emu)}
	if _, err := (store{}).LeaseCreate(ctx, bad, "nope"); codeOf(err) != sdk.CodeCredentialNotFound {
		t.Fatalf("unknown upstream role: %v", err)
	}
	// A path that returns no lease (a KV read) is refused.
	kv := sdk.Request{Config: cfgOf(`"mount":"secret","path":"app/stripe","dynamic_roles":["kv=secret/data/app/stripe"]`), Env: env(emu)}
	if _, err := (store{}).LeaseCreate(ctx, kv, "kv"); codeOf(err) != sdk.CodeUnreachable || !strings.Contains(err.Error(), "without a lease") {
		t.Fatalf("no lease: %v", err)
	}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}
