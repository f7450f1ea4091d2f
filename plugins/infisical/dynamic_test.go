//go:build !wasip1

package main

import (
	"encoding/json"
	"maps"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/sdk"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func dynamicFixture(t *testing.T) *fixture {
	f := newFixture(t, infisicaltest.WithFrozenClock(t0))
	f.emu.AddDynamicSecret("p-1", "dev", "/app", infisicaltest.DynamicSecret{Name: "db-postgres", DefaultTTL: time.Hour,
		Template: map[string]any{"username": "user-{seq}", "password": "pass-{seq}", "port": 5432}})
	f.emu.AddDynamicSecret("p-1", "dev", "/app", infisicaltest.DynamicSecret{Name: "db-replica", DefaultTTL: 10 * time.Minute, MaxTTL: 15 * time.Minute})
	return f
}

func TestDynamic_listLeaseRenewRevoke(t *testing.T) {
	f := dynamicFixture(t)
	s := store{}
	list, err := s.ListDynamic(ctx(t), f.req())
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.DynamicSecret{
		{Name: "db-postgres", Description: "sql-database", TTLSeconds: 3600, Renewable: true},
		{Name: "db-replica", Description: "sql-database", TTLSeconds: 600, Renewable: true},
	}
	if got, _ := json.Marshal(list); string(got) != string(mustJSON(want)) {
		t.Fatalf("list %s\nwant %s", got, mustJSON(want))
	}
	q := f.emu.RequestsTo(infisicaltest.RouteListDynamicSecrets)[0].Query.Encode()
	if q != "environmentSlug=dev&path=%2Fapp&projectSlug=proj-one" {
		t.Fatalf("list query %s", q)
	}

	lease, err := s.LeaseCreate(ctx(t), f.req(), "db-postgres")
	if err != nil {
		t.Fatal(err)
	}
	wantValues := map[string]string{"DB_POSTGRES_USERNAME": "user-1", "DB_POSTGRES_PASSWORD": "pass-1", "DB_POSTGRES_PORT": "5432"}
	if !maps.Equal(lease.Values, wantValues) || lease.TTLSeconds != 3600 || !lease.Renewable || lease.LeaseID == "" {
		t.Fatalf("lease %+v", lease)
	}
	var body map[string]any
	json.Unmarshal(f.emu.RequestsTo(infisicaltest.RouteCreateLease)[0].Body, &body)
	if got := string(mustJSON(body)); got != `{"config":null,"dynamicSecretName":"db-postgres","environmentSlug":"dev","path":"/app","projectSlug":"proj-one","ttl":""}` {
		t.Fatalf("create body %s", got)
	}

	f.emu.Clock().Advance(50 * time.Minute)
	renewed, err := s.LeaseRenew(ctx(t), f.req(), lease.LeaseID)
	if err != nil {
		t.Fatal(err)
	}
	// Infisical extends from the old expiry: 10 min left + 1 h.
	if renewed.LeaseID != lease.LeaseID || renewed.TTLSeconds != 4200 || renewed.Values != nil {
		t.Fatalf("renewed %+v", renewed)
	}
	if err := s.LeaseRevoke(ctx(t), f.req(), lease.LeaseID); err != nil {
		t.Fatal(err)
	}
	c := f.emu.Counts()
	if c.LeasesMinted != 1 || c.LeasesRenewed != 1 || c.LeasesRevoked != 1 || c.WorkspaceLookups != 1 {
		t.Fatalf("counts %+v (the slug lookup is cached)", c)
	}
	// A revoked lease is gone.
	if got := codeOf(s.LeaseRevoke(ctx(t), f.req(), lease.LeaseID)); got != sdk.CodeLeaseNotFound {
		t.Fatalf("second revoke: %s", got)
	}
	if _, err := s.LeaseRenew(ctx(t), f.req(), lease.LeaseID); codeOf(err) != sdk.CodeLeaseNotFound {
		t.Fatalf("renew of a revoked lease: %v", err)
	}
}

func TestDynamic_errors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fixture)
		run     func(f *fixture) error
		wantErr string
	}{
		{name: "unknown-secret", run: func(f *fixture) error { _, err := (store{}).LeaseCreate(ctx(nil), f.req(), "nope"); return err },
			wantErr: "credential_not_found: leasing dynamic secret nope: HTTP 404: Dynamic secret with name 'nope' in folder with path '/app' not found"},
		{name: "renew-past-max", run: func(f *fixture) error {
			l, err := (store{}).LeaseCreate(ctx(nil), f.req(), "db-replica")
			if err != nil {
				return err
			}
			_, err = store{}.LeaseRenew(ctx(nil), f.req(), l.LeaseID)
			return err
		}, wantErr: "external_store_unreachable: renewing lease 00000000-0000-4000-8000-00000000000b: HTTP 400: The requested renewal would exceed the maximum allowed lease duration. Please choose a shorter TTL"},
		{name: "lease-forbidden", setup: func(f *fixture) { f.emu.SetAccess("id-1", "p-1", infisicaltest.Access{CannotLease: true}) },
			run:     func(f *fixture) error { _, err := (store{}).LeaseCreate(ctx(nil), f.req(), "db-postgres"); return err },
			wantErr: "external_store_forbidden: leasing dynamic secret db-postgres: HTTP 403: You are not allowed to lease on dynamic-secrets (the machine identity may not read this)"},
		{name: "revoke-failed-at-provider-counts-as-revoked", setup: func(f *fixture) {
			f.emu.Inject(infisicaltest.RouteRevokeLease, infisicaltest.RevokeFailed("provider down"))
		},
			run: func(f *fixture) error {
				l, err := (store{}).LeaseCreate(ctx(nil), f.req(), "db-postgres")
				if err != nil {
					return err
				}
				return store{}.LeaseRevoke(ctx(nil), f.req(), l.LeaseID)
			}},
		{name: "revoke-500", setup: func(f *fixture) { f.emu.Inject(infisicaltest.RouteRevokeLease, infisicaltest.Status(500)) },
			run:     func(f *fixture) error { return store{}.LeaseRevoke(ctx(nil), f.req(), "x") },
			wantErr: "external_store_unreachable: revoking lease x: HTTP 500: Something went wrong"},
		{name: "slug-lookup-fails", setup: func(f *fixture) { f.emu.Inject(infisicaltest.RouteGetWorkspace, infisicaltest.NonJSON()) },
			run:     func(f *fixture) error { _, err := (store{}).ListDynamic(ctx(nil), f.req()); return err },
			wantErr: "external_store_unreachable: looking up project p-1: Infisical answered HTTP 200 with \"text/plain\" instead of JSON"},
		{name: "malformed-expire-at", setup: func(f *fixture) {
			f.emu.Inject(infisicaltest.RouteCreateLease, infisicaltest.Raw(200, "application/json", `{"lease":{"id":"l","expireAt":"tomorrow"},"data":{}}`))
		},
			run:     func(f *fixture) error { _, err := (store{}).LeaseCreate(ctx(nil), f.req(), "db-postgres"); return err },
			wantErr: "external_store_unreachable: leasing dynamic secret db-postgres: malformed answer from Infisical: lease.expireAt is not an RFC 3339 time"},
		{name: "malformed-lease-answer", setup: func(f *fixture) {
			f.emu.Inject(infisicaltest.RouteCreateLease, infisicaltest.Raw(200, "application/json", `{"lease":{"id":7}}`))
		},
			run:     func(f *fixture) error { _, err := (store{}).LeaseCreate(ctx(nil), f.req(), "db-postgres"); return err },
			wantErr: "external_store_unreachable: leasing dynamic secret db-postgres: malformed answer from Infisical: invalid JSON at byte 15: want a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := dynamicFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			if got := errText(tc.run(f)); got != tc.wantErr {
				t.Fatalf("got  %s\nwant %s", got, tc.wantErr)
			}
		})
	}
}

// TestDynamic_expireAtMissing: without expireAt the lease TTL falls back to
// the dynamic secret's default TTL.
func TestDynamic_expireAtMissing(t *testing.T) {
	f := dynamicFixture(t)
	f.emu.Inject(infisicaltest.RouteCreateLease, infisicaltest.Raw(200, "application/json",
		`{"lease":{"id":"l-9","expireAt":null},"dynamicSecret":{"defaultTTL":"2h"},"data":{"TOKEN":"t"}}`))
	l, err := store{}.LeaseCreate(ctx(t), f.req(), "db-postgres")
	if err != nil {
		t.Fatal(err)
	}
	if l.TTLSeconds != 7200 || l.Values["DB_POSTGRES_TOKEN"] != "t" {
		t.Fatalf("lease %+v", l)
	}
}

// leaseData reads a lease's data object as LeaseCreate does.
func leaseData(t testing.TB, data string) map[string]string {
	var m map[string]string
	if err := decodeAnswer([]byte(`{"data":`+data+`}`), members{{"data", valueTexts(&m)}}); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return m
}

func TestLeaseValues(t *testing.T) {
	tests := []struct {
		name string
		data string
		want map[string]string
	}{
		{name: "provider-fields", data: `{"DB_USERNAME":"u","DB_PASSWORD":"p"}`, want: map[string]string{"X_DB_USERNAME": "u", "X_DB_PASSWORD": "p"}},
		{name: "lower-case", data: `{"email":"a@b","password":"p"}`, want: map[string]string{"X_EMAIL": "a@b", "X_PASSWORD": "p"}},
		{name: "numbers", data: `{"port":5432,"ratio":0.25,"big":1e21,"neg":-3.0,"small":1e-7}`, want: map[string]string{"X_PORT": "5432", "X_RATIO": "0.25", "X_BIG": "1e+21", "X_NEG": "-3", "X_SMALL": "0.0000001"}},
		{name: "bool-null", data: `{"ok":true,"no":false,"nil":null}`, want: map[string]string{"X_OK": "true", "X_NO": "false", "X_NIL": ""}},
		{name: "array-object", data: `{"dn_array":["a",1.0],"obj":{"z":1,"a":"b","a":"<c>"}}`, want: map[string]string{"X_DN_ARRAY": `["a",1]`, "X_OBJ": `{"a":"\u003cc\u003e","z":1}`}},
		{name: "sanitised", data: `{"a-b":"1","c.d":"2","e f":"3","g/h":"4"," i ":"5"}`, want: map[string]string{"X_A_B": "1", "X_C_D": "2", "X_E_F": "3", "X_G_H": "4", "X_I": "5"}},
		{name: "dropped", data: `{"1x":"a","":"b","ü":"c","ok":"d"}`, want: map[string]string{"X_OK": "d"}},
		{name: "collision-first-sorted-wins", data: `{"a.b":"dot","a-b":"dash"}`, want: map[string]string{"X_A_B": "dash"}},
		{name: "empty", data: `{}`, want: map[string]string{}},
		{name: "null", data: `null`, want: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := leaseValues("x", leaseData(t, tc.data)); !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := leaseValues("2fa", map[string]string{"code": "1"}); len(got) != 0 {
		t.Fatalf("unsanitisable name gave %v", got)
	}
	if got := leaseValues("db-postgres", map[string]string{"username": "u"}); got["DB_POSTGRES_USERNAME"] != "u" {
		t.Fatalf("got %v", got)
	}
}

// valueTextViaStdlib is the credential text of a value as the plugin made
// it with encoding/json (decoded into an any).
func valueTextViaStdlib(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// FuzzValueTexts: a lease's data reads to what encoding/json gave.
func FuzzValueTexts(f *testing.F) {
	for _, s := range []string{`{"username":"u","port":5432,"x":[1,{"a":null,"b":2.5e-9}]}`, `{"a":"\u00e9\ud800","a":1e400}`, `null`, `[]`,
		`{"o":{"k":1,"K":2,"k":3},"big":123456789012345678901234567890}`, `{"s":"<>&\u2028"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var want map[string]any
		werr := json.Unmarshal([]byte(data), &want)
		var got map[string]string
		gerr := decodeAnswer([]byte(`{"data":`+data+`}`), members{{"data", valueTexts(&got)}})
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", data, gerr, werr)
		}
		if werr != nil {
			return
		}
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Fatalf("%s: got %q, encoding/json %v", data, got, want)
		}
		for k, v := range want {
			if got[k] != valueTextViaStdlib(v) {
				t.Fatalf("%s: %q is %q, encoding/json gives %q", data, k, got[k], valueTextViaStdlib(v))
			}
		}
	})
}

func TestParseMS(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true}, {"10m", 10 * time.Minute, true}, {"1h", time.Hour, true}, {"7d", 7 * 24 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true}, {"60000", time.Minute, true}, {" 2h ", 2 * time.Hour, true},
		{"", 0, false}, {"h", 0, false}, {"5x", 0, false}, {"-1h", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseMS(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMS(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseMS(f *testing.F) {
	for _, s := range []string{"30s", "1h", "7d", "1.5h", "60000", "", "x", "1e400h", "9999999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseMS(s); ok && d < 0 && d != time.Duration(-1<<63) {
			t.Fatalf("parseMS(%q) = %v", s, d)
		}
	})
}

func FuzzLeaseValues(f *testing.F) {
	f.Add("db-postgres", `{"username":"u","port":5432,"x":[1,{"a":null}]}`)
	f.Add("2fa", `{"a":"b"}`)
	f.Add("db", `{"1x":"a","a-b":"c","a.b":"d"}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		var m map[string]string
		if decodeAnswer([]byte(`{"data":`+data+`}`), members{{"data", valueTexts(&m)}}) != nil {
			return
		}
		for k := range leaseValues(name, m) {
			if !keyPattern.MatchString(k) {
				t.Fatalf("invalid key %q", k)
			}
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestDynamic_noTimeLeft: a lease without a usable expiry is an error
// (the host needs ttl_seconds > 0).
func TestDynamic_noTimeLeft(t *testing.T) {
	f := dynamicFixture(t)
	f.emu.Inject(infisicaltest.RouteCreateLease, infisicaltest.Raw(200, "application/json",
		`{"lease":{"id":"l-9","expireAt":"2025-01-01T00:00:00.000Z"},"data":{"TOKEN":"t"}}`).Times(1))
	f.emu.Inject(infisicaltest.RouteCreateLease, infisicaltest.Raw(200, "application/json", `{"lease":{"id":"l-9"},"data":{}}`).Times(1))
	for i := 0; i < 2; i++ {
		_, err := store{}.LeaseCreate(ctx(t), f.req(), "db-postgres")
		if got, want := errText(err), "external_store_unreachable: leasing dynamic secret db-postgres: Infisical answered with a lease that has no time left"; got != want {
			t.Fatalf("%d: got %s", i, got)
		}
	}
}
