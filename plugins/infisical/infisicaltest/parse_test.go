package infisicaltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestParseMS(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"30s", 30 * time.Second, true},
		{"10m", 10 * time.Minute, true},
		{"1h", time.Hour, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true},
		{"1 hour", time.Hour, true},
		{"2 Minutes", 2 * time.Minute, true},
		{"1500", 1500 * time.Millisecond, true},
		{"100ms", 100 * time.Millisecond, true},
		{"1y", time.Duration(365.25 * 24 * float64(time.Hour)), true},
		// Found by FuzzParseMS: float rounding broke the millisecond round trip.
		{"700000000021", 700000000021 * time.Millisecond, true},
		{"", 0, false},
		{"h", 0, false},
		{"1 fortnight", 0, false},
		{"9999999999999999999y", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseMS(tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("parseMS(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestFormatMS(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{time.Hour, "1h"}, {24 * time.Hour, "1d"}, {90 * time.Second, "90s"}, {2 * time.Minute, "2m"}, {1500 * time.Millisecond, "1500ms"},
	}
	for _, tc := range tests {
		if got := formatMS(tc.in); got != tc.want {
			t.Errorf("formatMS(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseMS(f *testing.F) {
	for _, s := range []string{"30s", "1h", "7d", "1.5 hours", "-1m", "1500", ".5s", "1e9y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseMS(s)
		if !ok && d != 0 {
			t.Fatalf("parseMS(%q) failed but returned %v", s, d)
		}
		// What formatMS writes, parseMS reads back.
		if ok && d > 0 {
			if back, ok2 := parseMS(formatMS(d.Truncate(time.Millisecond))); !ok2 || back != d.Truncate(time.Millisecond) {
				t.Fatalf("round trip of %v through %q gave %v, %v", d, formatMS(d.Truncate(time.Millisecond)), back, ok2)
			}
		}
	})
}

func TestNormalizeSecretPath(t *testing.T) {
	tests := []struct {
		in, want string
		wantOK   bool
	}{
		{"", "/", true}, {"/", "/", true}, {" /app/ ", "/app", true}, {"app", "/app", true},
		{"/a/b_c/d-e", "/a/b_c/d-e", true}, {"/a//b", "", false}, {"/a.b", "", false}, {"/a b", "", false}, {"//", "", false},
	}
	for _, tc := range tests {
		got, ok := normalizeSecretPath(tc.in)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("normalizeSecretPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzNormalizeSecretPath(f *testing.F) {
	for _, s := range []string{"", "/", "/app/", "a/b", "//", "/a/../b", " /x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := normalizeSecretPath(s)
		if !ok {
			return
		}
		if !strings.HasPrefix(p, "/") || (p != "/" && strings.HasSuffix(p, "/")) {
			t.Fatalf("normalizeSecretPath(%q) = %q", s, p)
		}
		if again, ok := normalizeSecretPath(p); !ok || again != p {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, p, again)
		}
	})
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		ref               string
		wantEnv, wantPath string
		wantKey           string
	}{
		{"KEY", "dev", "/app", "KEY"},
		{"prod.KEY", "prod", "/", "KEY"},
		{"prod.a.b.KEY", "prod", "/a/b", "KEY"},
		{"prod..KEY", "", "", ""},
	}
	for _, tc := range tests {
		env, p, key := parseReference(tc.ref, "dev", "/app")
		if env != tc.wantEnv || p != tc.wantPath || key != tc.wantKey {
			t.Errorf("parseReference(%q) = %q %q %q", tc.ref, env, p, key)
		}
	}
}

// FuzzExpandReferences checks that expansion terminates and never panics,
// whatever the stored values reference.
func FuzzExpandReferences(f *testing.F) {
	for _, s := range []string{"${A}", "${A}${B}", "x${prod.a.KEY}y", "${", "${}", "${dev.A}", "$${A}}"} {
		f.Add(s, "${A}")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		e := NewUnstarted()
		e.SetSecretList("p", "dev", "/", []Secret{{Key: "A", Value: a}, {Key: "B", Value: b}})
		e.SetSecrets("p", "prod", "/a", map[string]string{"KEY": b})
		pr := e.projects["p"]
		x := &expander{e: e, pr: pr}
		out := x.expand(a, "dev", "/", 0, map[string]bool{})
		if !strings.Contains(a, "${") && out != a {
			t.Fatalf("a value without references changed: %q -> %q", a, out)
		}
	})
}

func TestParseSigV4Authorization(t *testing.T) {
	good := "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"ok", good, ""},
		{"other-scheme", "Bearer x", "Authorization is not AWS4-HMAC-SHA256"},
		{"short-scope", strings.Replace(good, "/sts/aws4_request", "/aws4_request", 1), "Authorization Credential is not <key>/<date>/<region>/<service>/aws4_request"},
		{"bad-date", strings.Replace(good, "20260101", "2026-1-1", 1), "Authorization Credential date is not yyyymmdd"},
		{"unsorted", strings.Replace(good, "content-length;content-type", "content-type;content-length", 1), "Authorization SignedHeaders are not sorted"},
		{"bad-signature", strings.Replace(good, strings.Repeat("ab", 32), "xyz", 1), "Authorization Signature is not 64 hex digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseSigV4Authorization(tc.in)
			if tc.wantErr == "" {
				if err != nil || a.AccessKeyID != "AKID" || a.Region != "eu-west-1" || a.Service != "sts" || len(a.SignedHeaders) != 4 {
					t.Fatalf("got %+v, %v", a, err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseSigV4Authorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 ")
	f.Add("AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;, Signature=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseSigV4Authorization(s)
		if err == nil && (a.AccessKeyID == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0) {
			t.Fatalf("accepted %q as %+v", s, a)
		}
	})
}

// FuzzVerifyAWSLogin feeds arbitrary login bodies through the AWS check.
func FuzzVerifyAWSLogin(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	f.Add("POST", b64([]byte(stsBody)), b64([]byte(`{"Authorization":"AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=`+strings.Repeat("0", 64)+`","X-Amz-Date":"20260101T000000Z","Host":"sts.amazonaws.com","Content-Type":"application/x-www-form-urlencoded; charset=utf-8"}`)))
	f.Add("GET", "", "")
	f.Add("POST", b64([]byte(stsBody)), b64([]byte(`[1,2]`)))
	f.Fuzz(func(t *testing.T, method, body, headers string) {
		_ = verifyAWSLogin(awsLogin{Method: method, Body: body, Headers: headers}, AWSAuth{SecretAccessKey: "k"})
	})
}

func TestMatch(t *testing.T) {
	tests := []struct {
		method, path string
		want         Route
		param        string
	}{
		{"GET", "/api/v3/secrets/raw", RouteListSecrets, ""},
		{"GET", "/api/v3/secrets/raw/DB_URL", RouteGetSecret, "DB_URL"},
		{"GET", "/api/v1/dynamic-secrets/leases/abc", RouteGetLease, "abc"},
		{"GET", "/api/v1/dynamic-secrets/db/leases", RouteListLeases, "db"},
		{"GET", "/api/v1/dynamic-secrets/db", RouteGetDynamicSecret, "db"},
		{"POST", "/api/v1/dynamic-secrets/leases", RouteCreateLease, ""},
		{"POST", "/api/v1/dynamic-secrets/leases/abc/renew", RouteRenewLease, "abc"},
		{"DELETE", "/api/v1/dynamic-secrets/leases/abc", RouteRevokeLease, "abc"},
		{"PUT", "/api/v1/dynamic-secrets/leases/abc", "", ""},
		{"GET", "/api/v3/secrets/raw/", RouteListSecrets, ""}, // a trailing slash is ignored
	}
	for _, tc := range tests {
		r, params, _ := match(tc.method, tc.path)
		if r != tc.want {
			t.Errorf("match(%s %s) = %q, want %q", tc.method, tc.path, r, tc.want)
			continue
		}
		for _, v := range params {
			if v != tc.param {
				t.Errorf("match(%s %s) param = %q, want %q", tc.method, tc.path, v, tc.param)
			}
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, p := range []string{"/api/v1/dynamic-secrets/leases/x/renew", "/", "//", "/api/v3/secrets/raw/a/b"} {
		f.Add("GET", p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r, params, h := match(method, path)
		if (r == "") != (h == nil) {
			t.Fatalf("match(%q, %q) route %q with handler %v", method, path, r, h != nil)
		}
		for _, v := range params {
			if v == "" {
				t.Fatalf("empty parameter for %q", path)
			}
		}
	})
}

// FuzzJWT feeds arbitrary tokens to the unverified claim reader and the
// RS256 check used by GCP IAM logins.
func FuzzJWT(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for _, s := range []string{"a.b.c", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "..", "x", "eyJ9.e30.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = jwtClaims(tok)
		if verifyRS256(tok, pub) == nil {
			t.Fatalf("accepted %q", tok)
		}
	})
}
