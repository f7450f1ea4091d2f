package broker

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

var errNotFound = errors.New("not found")

// lookupFrom serves values from m and records the keys asked for.
func lookupFrom(m map[string]string, asked *[]string) Lookup {
	return func(k string) (string, error) {
		*asked = append(*asked, k)
		v, ok := m[k]
		if !ok {
			return "", errNotFound
		}
		return v, nil
	}
}

var values = map[string]string{
	"TOKEN":   "tok_123",
	"USER":    "alice",
	"PASS":    "p@ss:word",
	"KEY":     "k-9",
	"ACCOUNT": "acct/1 &x",
	"CRLF":    "a\r\nX-Evil: 1",
	"JSONV":   `q"u\o<te>`,
}

func TestInject(t *testing.T) {
	subs := func(key, ph string, in ...domain.Surface) []domain.Substitution {
		return []domain.Substitution{{Key: key, Placeholder: ph, In: in}}
	}
	tests := []struct {
		name        string
		svc         domain.Service
		method, url string
		header      map[string]string
		body        string
		wantURL     string
		wantHeader  map[string]string // exact values of these headers
		wantBody    string
		wantAsked   []string
		wantErr     string
	}{
		{name: "bearer-replaces-client-header",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}},
			url: "http://api.x.com/v1", header: map[string]string{"Authorization": "Bearer fake"},
			wantURL:    "http://api.x.com/v1",
			wantHeader: map[string]string{"Authorization": "Bearer tok_123"}, wantAsked: []string{"TOKEN"}},
		{name: "basic-with-password",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBasic, Username: "USER", Password: "PASS"}},
			url: "http://api.x.com/", wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"Authorization": "Basic YWxpY2U6cEBzczp3b3Jk"}, wantAsked: []string{"USER", "PASS"}},
		{name: "basic-no-password",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBasic, Username: "USER"}},
			url: "http://api.x.com/", wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"Authorization": "Basic YWxpY2U6"}, wantAsked: []string{"USER"}},
		{name: "api-key-default-header",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthAPIKey, Key: "KEY"}},
			url: "http://api.x.com/", header: map[string]string{"X-Api-Key": "fake"}, wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"X-Api-Key": "k-9"}, wantAsked: []string{"KEY"}},
		{name: "api-key-header-prefix",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthAPIKey, Key: "KEY", Header: "authorization", Prefix: "Token "}},
			url: "http://api.x.com/", wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"Authorization": "Token k-9"}, wantAsked: []string{"KEY"}},
		{name: "custom",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthCustom, Headers: map[string]string{"X-User": "{{ USER }}", "X-Sig": "k={{KEY}};u={{ USER }}"}}},
			url: "http://api.x.com/", wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"X-User": "alice", "X-Sig": "k=k-9;u=alice"}, wantAsked: []string{"KEY", "USER", "USER"}},
		{name: "passthrough-keeps-client-auth",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}},
			url: "http://api.x.com/", header: map[string]string{"Authorization": "Bearer mine"}, wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"Authorization": "Bearer mine"}},
		{name: "missing-key",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBearer, Token: "NOPE"}},
			url: "http://api.x.com/", wantAsked: []string{"NOPE"}, wantErr: "not found"},
		{name: "crlf-in-header-value",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBearer, Token: "CRLF"}},
			url: "http://api.x.com/", wantAsked: []string{"CRLF"},
			wantErr: `credential_unusable: the value of credential "CRLF" contains a control character and cannot be sent in a header`},
		{name: "path-and-query",
			svc:       domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "path", "query")},
			url:       "http://api.x.com/v1/__ACCT__/items?acct=__ACCT__&x=1",
			wantURL:   "http://api.x.com/v1/acct%2F1%20&x/items?acct=acct%2F1+%26x&x=1",
			wantAsked: []string{"ACCOUNT"}},
		{name: "query-only-leaves-path",
			svc:       domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "query")},
			url:       "http://api.x.com/__ACCT__?a=__ACCT__",
			wantURL:   "http://api.x.com/__ACCT__?a=acct%2F1+%26x",
			wantAsked: []string{"ACCOUNT"}},
		{name: "placeholder-absent-no-lookup",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("NOPE", "__ACCT__", "path", "query", "header", "body")},
			url: "http://api.x.com/a?b=c", header: map[string]string{"Content-Type": "application/json"}, body: `{"a":1}`,
			wantURL: "http://api.x.com/a?b=c", wantBody: `{"a":1}`},
		{name: "placeholder-unresolved-fails",
			svc:       domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("NOPE", "__ACCT__", "path")},
			url:       "http://api.x.com/__ACCT__",
			wantAsked: []string{"NOPE"}, wantErr: "not found"},
		{name: "header",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthBearer, Token: "TOKEN"}, Substitutions: subs("ACCOUNT", "__ACCT__", "header")},
			url: "http://api.x.com/", header: map[string]string{"X-Account": "id=__ACCT__"}, wantURL: "http://api.x.com/",
			wantHeader: map[string]string{"X-Account": "id=acct/1 &x", "Authorization": "Bearer tok_123"},
			wantAsked:  []string{"ACCOUNT", "TOKEN"}},
		{name: "header-crlf",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("CRLF", "__ACCT__", "header")},
			url: "http://api.x.com/", header: map[string]string{"X-Account": "__ACCT__"},
			wantAsked: []string{"CRLF"},
			wantErr:   `credential_unusable: the value of credential "CRLF" contains a control character and cannot be sent in a header`},
		{name: "body-json",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("JSONV", "__V__x", "body")},
			url: "http://api.x.com/", method: "POST", header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body:    `{"v":"__V__x","w":"pre __V__x"}`,
			wantURL: "http://api.x.com/", wantBody: `{"v":"q\"u\\o\u003cte\u003e","w":"pre q\"u\\o\u003cte\u003e"}`,
			wantAsked: []string{"JSONV"}},
		{name: "body-form",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "body")},
			url: "http://api.x.com/", method: "POST", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body:    "a=__ACCT__&b=2",
			wantURL: "http://api.x.com/", wantBody: "a=acct%2F1+%26x&b=2",
			wantAsked: []string{"ACCOUNT"}},
		{name: "body-text",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "body")},
			url: "http://api.x.com/", method: "POST", header: map[string]string{"Content-Type": "text/plain"},
			body:    "id __ACCT__",
			wantURL: "http://api.x.com/", wantBody: "id acct/1 &x",
			wantAsked: []string{"ACCOUNT"}},
		{name: "body-gzip-untouched",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "body")},
			url: "http://api.x.com/", method: "POST", header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
			body:    `{"v":"__ACCT__"}`,
			wantURL: "http://api.x.com/", wantBody: `{"v":"__ACCT__"}`},
		{name: "body-multipart-untouched",
			svc: domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough}, Substitutions: subs("ACCOUNT", "__ACCT__", "body")},
			url: "http://api.x.com/", method: "POST", header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"},
			body:    "--x\r\n\r\n__ACCT__\r\n--x--",
			wantURL: "http://api.x.com/", wantBody: "--x\r\n\r\n__ACCT__\r\n--x--"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(method, tc.url, body)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			var asked []string
			s := tc.svc
			err := Inject(r, &s, lookupFrom(values, &asked), 0)
			if !reflect.DeepEqual(asked, tc.wantAsked) {
				t.Errorf("asked %v, want %v", asked, tc.wantAsked)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := r.URL.String(); got != tc.wantURL {
				t.Errorf("URL = %s, want %s", got, tc.wantURL)
			}
			for k, v := range tc.wantHeader {
				if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %q, want [%q]", k, got, v)
				}
			}
			if tc.body != "" || tc.wantBody != "" {
				b, _ := io.ReadAll(r.Body)
				if string(b) != tc.wantBody {
					t.Errorf("body = %q, want %q", b, tc.wantBody)
				}
				if r.ContentLength != int64(len(tc.wantBody)) {
					t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(tc.wantBody))
				}
			}
		})
	}
}

func TestInjectBodyTooLarge(t *testing.T) {
	s := domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough},
		Substitutions: []domain.Substitution{{Key: "ACCOUNT", Placeholder: "__ACCT__", In: []domain.Surface{"body"}}}}
	for _, chunked := range []bool{false, true} {
		r := httptest.NewRequest("POST", "http://api.x.com/", strings.NewReader(strings.Repeat("a", 33)))
		r.Header.Set("Content-Type", "text/plain")
		if chunked {
			r.ContentLength = -1
		}
		var asked []string
		err := Inject(r, &s, lookupFrom(values, &asked), 32)
		if want := "request_body_too_large: a request body that needs a substitution may be at most 32 bytes"; err == nil || err.Error() != want {
			t.Fatalf("chunked=%v: err = %v, want %q", chunked, err, want)
		}
	}
}

func FuzzSubstitutePath(f *testing.F) {
	f.Add("/v1/__PH__/x", "a/b c%?#")
	f.Add("/%2F__PH__", "..")
	f.Add("/__PH____PH__", "")
	f.Fuzz(func(t *testing.T, esc, v string) {
		const ph = "__PH__"
		if _, err := url.PathUnescape(esc); err != nil {
			return
		}
		raw, path, err := substitutePath(esc, ph, v)
		if err != nil {
			t.Fatalf("valid input %q failed: %v", esc, err)
		}
		// The value lands as data inside a segment: the segment count of the
		// escaped path never changes.
		if strings.Count(raw, "/") != strings.Count(esc, "/") {
			t.Fatalf("%q with %q gained segments: %q", esc, v, raw)
		}
		u := url.URL{Path: path, RawPath: raw}
		if u.EscapedPath() != raw && strings.Contains(esc, ph) && !strings.Contains(v, ph) {
			// RawPath is dropped only when it equals the default encoding.
			if u.EscapedPath() != (&url.URL{Path: path}).EscapedPath() {
				t.Fatalf("RawPath %q not kept for path %q", raw, path)
			}
		}
	})
}

func FuzzSubstituteQuery(f *testing.F) {
	f.Add("a=__PH__&b=1", "x&y=z")
	f.Add("__PH__", "+ %")
	f.Fuzz(func(t *testing.T, q, v string) {
		const ph = "__PH__"
		before, err := url.ParseQuery(q)
		if err != nil || strings.Contains(v, ph) {
			return
		}
		after, err := url.ParseQuery(substituteQuery(q, ph, v))
		if err != nil {
			t.Fatalf("query %q with %q no longer parses: %v", q, v, err)
		}
		// Keys and values are replaced one for one; none appear or vanish.
		for k, vs := range before {
			nk := strings.ReplaceAll(k, ph, v)
			if nk == "" {
				continue // an empty key is dropped by ParseQuery
			}
			got := after[nk]
			if len(got) < len(vs) {
				t.Fatalf("key %q: %q became %q", k, vs, got)
			}
			for i := range vs {
				if want := strings.ReplaceAll(vs[i], ph, v); !contains(got, want) {
					t.Fatalf("key %q: want %q in %q", k, want, got)
				}
				_ = i
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzSubstituteJSONBody(f *testing.F) {
	f.Add(`{"a":"__PH__","b":["x __PH__"]}`, "q\"\\\n\u2028<>&")
	f.Add(`"__PH__"`, "\x00\xff")
	f.Fuzz(func(t *testing.T, body, v string) {
		const ph = "__PH__"
		var before any
		if json.Unmarshal([]byte(body), &before) != nil || strings.Contains(v, ph) {
			return
		}
		out, _ := substituteBody(bodyJSON, []byte(body), ph, v)
		var after any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("%s with %q is no longer JSON: %s", body, v, out)
		}
		// Invalid UTF-8 in the value becomes U+FFFD per byte, as
		// encoding/json writes it.
		var dv string
		mv, _ := json.Marshal(v)
		_ = json.Unmarshal(mv, &dv)
		want := replaceStrings(before, ph, dv)
		if !reflect.DeepEqual(after, want) {
			t.Fatalf("decoded %#v, want %#v", after, want)
		}
	})
}

// replaceStrings mirrors a substitution on decoded JSON.
func replaceStrings(x any, ph, v string) any {
	switch x := x.(type) {
	case string:
		return strings.ReplaceAll(x, ph, v)
	case []any:
		for i := range x {
			x[i] = replaceStrings(x[i], ph, v)
		}
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[strings.ReplaceAll(k, ph, v)] = replaceStrings(e, ph, v)
		}
		return out
	}
	return x
}

func FuzzSubstituteFormBody(f *testing.F) {
	f.Add("a=__PH__&b=x+y", "1&c=2")
	f.Fuzz(func(t *testing.T, body, v string) {
		const ph = "__PH__"
		before, err := url.ParseQuery(body)
		if err != nil || strings.Contains(v, ph) {
			return
		}
		out, _ := substituteBody(bodyForm, []byte(body), ph, v)
		after, err := url.ParseQuery(string(out))
		if err != nil {
			t.Fatalf("form %q with %q no longer parses", body, v)
		}
		if len(after) > len(before) {
			t.Fatalf("form %q with %q gained fields: %v", body, v, after)
		}
	})
}

func FuzzInjectHeader(f *testing.F) {
	f.Add("X-A", "pre __PH__ post", "val")
	f.Add("X-A", "__PH__", "a\r\nb")
	f.Fuzz(func(t *testing.T, name, hv, v string) {
		if !domain.ValidHeaderName(name) {
			return
		}
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Header.Set(name, hv)
		s := domain.Service{Auth: domain.Auth{Type: domain.AuthPassthrough},
			Substitutions: []domain.Substitution{{Key: "K", Placeholder: "__PH__", In: []domain.Surface{"header"}}}}
		err := Inject(r, &s, func(string) (string, error) { return v, nil }, 0)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeCredentialUnusable {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for _, got := range r.Header.Values(name) {
			if strings.ContainsAny(got, "\r\n\x00") && !strings.ContainsAny(hv, "\r\n\x00") {
				t.Fatalf("control character smuggled into %q", got)
			}
		}
	})
}
