package openbaotest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bao "github.com/openbao/openbao/api/v2"

	"github.com/agent-vault/agent-vault/plugins/openbao/openbaotest"
)

// These tests drive the emulator with OpenBao's own, unmodified Go client:
// every route the plugin uses must succeed, and faults must surface as the
// client's own error type with the status and messages.

func newClient(t *testing.T, e *openbaotest.Emulator, token string) *bao.Client {
	t.Helper()
	cfg := bao.DefaultConfig()
	cfg.Address = e.URL()
	cfg.MaxRetries = 0
	c, err := bao.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func seeded(t *testing.T) *openbaotest.Emulator {
	e := openbaotest.New(t)
	e.AddToken(openbaotest.Token{ID: "root", Policies: []string{"*"}})
	e.AddToken(openbaotest.Token{ID: "narrow", Policies: []string{"secret/data/app/"}, TTL: time.Hour, Renewable: true})
	e.PutSecret("", "secret", "app/stripe", map[string]any{"API_KEY": "sk_1", "PORT": 5432})
	e.PutSecret("", "secret", "app/stripe/child", map[string]any{"CHILD": "c"})
	e.MountKV("", "kv1", 1)
	e.PutSecret("", "kv1", "legacy", map[string]any{"OLD": "o"})
	e.AddAppRole(openbaotest.AppRole{RoleID: "rid", SecretID: "sid", Policies: []string{"*"}, TTL: time.Hour, MaxTTL: 2 * time.Hour})
	e.AddKubernetesRole(openbaotest.LoginRole{Name: "agent-vault", JWT: "k8s-jwt", Policies: []string{"*"}, TTL: time.Hour})
	e.AddJWTRole(openbaotest.LoginRole{Name: "ci", JWT: "ci-jwt", Policies: []string{"*"}, TTL: time.Hour})
	e.AddDatabaseRole("", "database", openbaotest.DBRole{Name: "readonly", TTL: time.Hour, MaxTTL: 2 * time.Hour})
	return e
}

func TestClientKV(t *testing.T) {
	e := seeded(t)
	c := newClient(t, e, "root")
	ctx := context.Background()

	kv, err := c.KVv2("secret").Get(ctx, "app/stripe")
	if err != nil {
		t.Fatal(err)
	}
	if kv.Data["API_KEY"] != "sk_1" || kv.VersionMetadata == nil || kv.VersionMetadata.Version != 1 {
		t.Fatalf("KVv2.Get = %+v %+v", kv.Data, kv.VersionMetadata)
	}
	meta, err := c.KVv2("secret").GetMetadata(ctx, "app/stripe")
	if err != nil || meta.CurrentVersion != 1 || len(meta.Versions) != 1 {
		t.Fatalf("GetMetadata = %+v, %v", meta, err)
	}
	list, err := c.Logical().List("secret/metadata/app/stripe")
	if err != nil || list == nil {
		t.Fatalf("List = %v, %v", list, err)
	}
	if keys := list.Data["keys"].([]any); len(keys) != 1 || keys[0] != "child" {
		t.Fatalf("keys = %v", keys)
	}
	if list, err := c.Logical().List("secret/metadata/app"); err != nil || !strings.Contains(fmt.Sprint(list.Data["keys"]), "stripe/") {
		t.Fatalf("folder list = %v, %v", list, err)
	}
	// Nothing there: the client returns no secret and no error.
	if s, err := c.Logical().Read("secret/data/nope"); s != nil || err != nil {
		t.Fatalf("missing read = %v, %v", s, err)
	}
	if s, err := c.Logical().List("secret/metadata/nope"); s != nil || err != nil {
		t.Fatalf("missing list = %v, %v", s, err)
	}
	// KV v1 and the mount lookup.
	if s, err := c.Logical().Read("kv1/legacy"); err != nil || s.Data["OLD"] != "o" {
		t.Fatalf("v1 read = %v, %v", s, err)
	}
	if s, err := c.Logical().Read("sys/internal/ui/mounts/kv1"); err != nil || s.Data["options"].(map[string]any)["version"] != "1" {
		t.Fatalf("mounts = %v, %v", s, err)
	}
	// A deleted latest version: 404 with an envelope, which the client
	// hands back as a secret whose data is nil.
	e.DeleteSecret("", "secret", "app/stripe")
	s, err := c.Logical().Read("secret/data/app/stripe")
	if err != nil || s == nil || s.Data["data"] != nil || s.Data["metadata"].(map[string]any)["deletion_time"] == "" {
		t.Fatalf("deleted read = %+v, %v", s, err)
	}
}

func TestClientLogins(t *testing.T) {
	e := seeded(t)
	c := newClient(t, e, "")
	for _, tc := range []struct {
		name, path string
		body       map[string]any
	}{
		{"approle", "auth/approle/login", map[string]any{"role_id": "rid", "secret_id": "sid"}},
		{"kubernetes", "auth/kubernetes/login", map[string]any{"role": "agent-vault", "jwt": "k8s-jwt"}},
		{"jwt", "auth/jwt/login", map[string]any{"jwt": "ci-jwt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := c.Logical().Write(tc.path, tc.body)
			if err != nil || s.Auth == nil || s.Auth.ClientToken == "" || s.Auth.LeaseDuration != 3600 || !s.Auth.Renewable {
				t.Fatalf("login = %+v, %v", s, err)
			}
			tc2 := newClient(t, e, s.Auth.ClientToken)
			self, err := tc2.Auth().Token().LookupSelf()
			if err != nil {
				t.Fatal(err)
			}
			if ttl, err := self.TokenTTL(); err != nil || ttl <= 0 {
				t.Fatalf("TokenTTL = %v, %v", ttl, err)
			}
			r, err := tc2.Auth().Token().RenewSelf(600)
			if err != nil || r.Auth.LeaseDuration != 600 {
				t.Fatalf("RenewSelf = %+v, %v", r, err)
			}
		})
	}
	_, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": "rid", "secret_id": "wrong"})
	wantResponseError(t, err, 400, "invalid role or secret ID")
}

func TestClientLeases(t *testing.T) {
	e := seeded(t)
	c := newClient(t, e, "root")
	s, err := c.Logical().Read("database/creds/readonly")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.LeaseID, "database/creds/readonly/") || !s.Renewable || s.LeaseDuration != 3600 || s.Data["username"] == "" {
		t.Fatalf("creds = %+v", s)
	}
	r, err := c.Sys().Renew(s.LeaseID, 1800)
	if err != nil || r.LeaseID != s.LeaseID || r.LeaseDuration != 1800 {
		t.Fatalf("Renew = %+v, %v", r, err)
	}
	// Past the max TTL the renewal is capped, with a warning.
	r, err = c.Sys().Renew(s.LeaseID, 3*3600)
	if err != nil || r.LeaseDuration > 2*3600 || len(r.Warnings) != 1 {
		t.Fatalf("capped Renew = %+v, %v", r, err)
	}
	l, err := c.Sys().Lookup(s.LeaseID)
	if err != nil || l.Data["id"] != s.LeaseID {
		t.Fatalf("Lookup = %+v, %v", l, err)
	}
	if err := c.Sys().Revoke(s.LeaseID); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Revoke(s.LeaseID); err != nil {
		t.Fatalf("revoking again must succeed: %v", err)
	}
	_, err = c.Sys().Renew(s.LeaseID, 0)
	wantResponseError(t, err, 400, "lease not found")
	_, err = c.Sys().Lookup(s.LeaseID)
	wantResponseError(t, err, 400, "invalid lease")
	_, err = c.Logical().Read("database/creds/nope")
	wantResponseError(t, err, 400, "unknown role: nope")
	if got := e.Counts(); got.LeasesMinted != 1 || got.LeasesRenewed != 2 || got.LeasesRevoked != 1 {
		t.Fatalf("counts = %+v", got)
	}
	// Expiry.
	s, _ = c.Logical().Read("database/creds/readonly")
	e.Clock().Advance(2 * time.Hour)
	_, err = c.Sys().Renew(s.LeaseID, 0)
	wantResponseError(t, err, 400, "lease not found")
	if e.Counts().LeasesExpired != 1 {
		t.Fatalf("expired = %d", e.Counts().LeasesExpired)
	}
}

func TestClientNamespaces(t *testing.T) {
	e := seeded(t)
	e.CreateNamespace("team-a")
	e.PutSecret("team-a", "secret", "app", map[string]any{"NS_KEY": "x"})
	e.AddDatabaseRole("team-a", "database", openbaotest.DBRole{Name: "ro"})
	c := newClient(t, e, "root")
	c.SetNamespace("team-a")
	if s, err := c.Logical().Read("secret/data/app"); err != nil || s.Data["data"].(map[string]any)["NS_KEY"] != "x" {
		t.Fatalf("namespaced read = %v, %v", s, err)
	}
	s, err := c.Logical().Read("database/creds/ro")
	if err != nil || !strings.HasSuffix(s.LeaseID, ".NS0001") && !strings.Contains(s.LeaseID, ".NS") {
		t.Fatalf("namespaced lease = %+v, %v", s, err)
	}
	// The lease lives in its namespace only.
	root := newClient(t, e, "root")
	_, err = root.Sys().Renew(s.LeaseID, 0)
	wantResponseError(t, err, 400, "lease not found")
	if _, err := c.Sys().Renew(s.LeaseID, 0); err != nil {
		t.Fatal(err)
	}
	// The namespace in the path instead of the header.
	if s, err := root.Logical().Read("team-a/secret/data/app"); err != nil || s == nil {
		t.Fatalf("path namespace = %v, %v", s, err)
	}
	// An unknown namespace is a 404 whose body has no data: the client
	// reads it as no secret and no error (wire doc §6).
	c.SetNamespace("nope")
	if s, err := c.Logical().Read("secret/data/app"); s != nil || err != nil {
		t.Fatalf("unknown namespace = %v, %v", s, err)
	}
	if e.Hits(openbaotest.RouteUnknown) != 1 {
		t.Fatalf("unknown namespace hits = %d", e.Hits(openbaotest.RouteUnknown))
	}
}

func TestClientFaults(t *testing.T) {
	e := seeded(t)
	c := newClient(t, e, "narrow")
	_, err := c.Logical().Read("secret/data/other")
	wantResponseError(t, err, 403, "permission denied")
	bad := newClient(t, e, "nope")
	_, err = bad.Auth().Token().LookupSelf()
	wantResponseError(t, err, 403, "permission denied")

	e.Inject(openbaotest.RouteKVRead, openbaotest.Status(503).Times(1))
	_, err = c.Logical().Read("secret/data/app/stripe")
	wantResponseError(t, err, 503, "Vault is sealed")
	if _, err := c.Logical().Read("secret/data/app/stripe"); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	e.Inject(openbaotest.RouteKVRead, openbaotest.Malformed().Times(1))
	if _, err := c.Logical().Read("secret/data/app/stripe"); err == nil {
		t.Fatal("malformed body: want an error")
	}
	e.ExpireTokens()
	_, err = c.Logical().Read("secret/data/app/stripe")
	wantResponseError(t, err, 403, "permission denied")

	e2 := seeded(t)
	rc := newClient(t, e2, "root")
	s, _ := rc.Logical().Read("database/creds/readonly")
	e2.FailRevokes(true)
	err = rc.Sys().Revoke(s.LeaseID)
	wantResponseError(t, err, 500, "failed to revoke")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	e2.Inject(openbaotest.RouteKVRead, openbaotest.Hang())
	if _, err := rc.Logical().ReadWithContext(ctx, "secret/data/app/stripe"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
}

func wantResponseError(t *testing.T, err error, status int, substr string) {
	t.Helper()
	var re *bao.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got %v (%T), want *api.ResponseError %d", err, err, status)
	}
	if re.StatusCode != status || !strings.Contains(strings.Join(re.Errors, "\n"), substr) {
		t.Fatalf("got %d %q, want %d %q", re.StatusCode, re.Errors, status, substr)
	}
}
