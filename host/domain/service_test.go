package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

func on() *bool  { b := true; return &b }
func off() *bool { b := false; return &b }

func TestParseHostPattern(t *testing.T) {
	tests := []struct {
		in      string
		want    HostPattern
		wantErr string
	}{
		{in: "api.x.com", want: HostPattern{Host: "api.x.com"}},
		{in: "API.X.Com", want: HostPattern{Host: "api.x.com"}},
		{in: "*.x.com", want: HostPattern{Suffix: "x.com", Wildcard: true}},
		{in: "api.x.com:8443", want: HostPattern{Host: "api.x.com", Port: "8443"}},
		{in: "api.x.com/v1/*", want: HostPattern{Host: "api.x.com", Path: "/v1/", Prefix: true}},
		{in: "api.x.com:8443/v1", want: HostPattern{Host: "api.x.com", Port: "8443", Path: "/v1"}},
		{in: "api.x.com/*", want: HostPattern{Host: "api.x.com"}},
		{in: "127.0.0.1:9000", want: HostPattern{Host: "127.0.0.1", Port: "9000", IP: true}},
		{in: "[::1]:80", want: HostPattern{Host: "::1", Port: "80", IP: true}},
		{in: "[::1]", want: HostPattern{Host: "::1", IP: true}},
		{in: "localhost", want: HostPattern{Host: "localhost"}},
		{in: "", wantErr: "host is empty"},
		{in: "https://api.x.com", wantErr: `host "https://api.x.com" must not contain a scheme`},
		{in: "*.com", wantErr: `wildcard "*.com" must cover a domain with at least two labels`},
		{in: "a.*.com", wantErr: `host name "a.*.com" may contain only letters, digits, '-' and '_' (use '*.' only as the first label)`},
		{in: "api.x.com:0", wantErr: `port "0" in "api.x.com:0" must be 1 to 65535`},
		{in: "api.x.com:65536", wantErr: `port "65536" in "api.x.com:65536" must be 1 to 65535`},
		{in: "api.x.com:", wantErr: `empty port in "api.x.com:"`},
		{in: "api.x.com/v*1", wantErr: `path in "api.x.com/v*1" may contain "*" only at its end and no '?', '#', '%' or spaces`},
		{in: "api.x.com/a?b", wantErr: `path in "api.x.com/a?b" may contain "*" only at its end and no '?', '#', '%' or spaces`},
		{in: "2130706433", wantErr: `"2130706433" looks like an IP address but is not a canonical dotted IPv4 address`},
		{in: "0177.0.0.1", wantErr: `"0177.0.0.1" looks like an IP address but is not a canonical dotted IPv4 address`},
		{in: "0x7f.1", wantErr: `"0x7f.1" looks like an IP address but is not a canonical dotted IPv4 address`},
		{in: "*.0.0.1", wantErr: `a wildcard cannot apply to an IP address ("*.0.0.1")`},
		{in: "[::ffff:127.0.0.1]", wantErr: `write the IPv4-mapped address "::ffff:127.0.0.1" as 127.0.0.1`},
		{in: "[0:0::1]", wantErr: `write the IPv6 address "0:0::1" as ::1`},
		{in: "[::1", wantErr: `unclosed '[' in "[::1"`},
		{in: "[fe80::1%eth0]", wantErr: `"fe80::1%eth0" is not an IPv6 address`},
		{in: "-a.x.com", wantErr: `host name "-a.x.com" has a label starting or ending with '-'`},
		{in: "a..com", wantErr: `host name "a..com" has an empty or over-long label`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseHostPattern(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHostPatternMatches(t *testing.T) {
	tests := []struct {
		pattern, host, port, path string
		want                      bool
	}{
		{"api.x.com", "api.x.com", "443", "/", true},
		{"api.x.com", "x.com", "443", "/", false},
		{"*.x.com", "api.x.com", "443", "/", true},
		{"*.x.com", "x.com", "443", "/", false},
		{"*.x.com", "a.b.x.com", "443", "/", false},
		{"*.x.com", "evilx.com", "443", "/", false},
		{"*.x.com", ".x.com", "443", "/", false},
		{"api.x.com:8443", "api.x.com", "443", "/", false},
		{"api.x.com:8443", "api.x.com", "8443", "/", true},
		{"api.x.com/v1/*", "api.x.com", "443", "/v1/charges", true},
		{"api.x.com/v1/*", "api.x.com", "443", "/v2/charges", false},
		{"api.x.com/v1", "api.x.com", "443", "/v1", true},
		{"api.x.com/v1", "api.x.com", "443", "/v1/x", false},
		{"[::1]:80", "::1", "80", "/", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"|"+tc.host+":"+tc.port+tc.path, func(t *testing.T) {
			p, err := ParseHostPattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Matches(tc.host, tc.port, tc.path); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func validStripe() Service {
	return Service{
		Name: "stripe", Host: "api.stripe.com", Enabled: on(),
		Auth:          Auth{Type: AuthBearer, Token: "STRIPE_KEY"},
		Substitutions: []Substitution{{Key: "ACCOUNT_ID", Placeholder: "__ACCOUNT__", In: []Surface{SurfacePath, SurfaceQuery}}},
	}
}

func TestValidateServices(t *testing.T) {
	with := func(f func(s *Service)) []Service {
		s := validStripe()
		f(&s)
		return []Service{s}
	}
	tests := []struct {
		name      string
		list      []Service
		wantField string
		wantMsg   string
	}{
		{name: "ok", list: []Service{validStripe()}},
		{name: "ok-all-types", list: []Service{
			{Name: "a", Host: "a.x.com", Auth: Auth{Type: AuthBasic, Username: "U"}},
			{Name: "b", Host: "b.x.com", Auth: Auth{Type: AuthBasic, Username: "U", Password: "P"}},
			{Name: "c", Host: "c.x.com", Auth: Auth{Type: AuthAPIKey, Key: "K", Header: "X-Key", Prefix: "Token "}},
			{Name: "d", Host: "d.x.com", Auth: Auth{Type: AuthCustom, Headers: map[string]string{"X-A": "{{ A }}:{{B}}"}}},
			{Name: "e", Host: "e.x.com", Auth: Auth{Type: AuthPassthrough}},
		}},
		{name: "bad-name", list: with(func(s *Service) { s.Name = "Stripe" }),
			wantField: "services[0].name", wantMsg: `service name "Stripe" must match ^[a-z0-9][a-z0-9_-]{0,63}$`},
		{name: "bad-host", list: with(func(s *Service) { s.Host = "*.com" }),
			wantField: "services[0].host", wantMsg: `wildcard "*.com" must cover a domain with at least two labels`},
		{name: "bad-type", list: with(func(s *Service) { s.Auth.Type = "oauth" }),
			wantField: "services[0].auth.type", wantMsg: `unknown auth type "oauth" (want bearer, basic, api-key, custom or passthrough)`},
		{name: "bearer-bad-key", list: with(func(s *Service) { s.Auth.Token = "sk_live_123" }),
			wantField: "services[0].auth.token", wantMsg: `credential key "sk_live_123" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters); did you mean "SK_LIVE_123"?`},
		{name: "bearer-missing-token", list: with(func(s *Service) { s.Auth.Token = "" }),
			wantField: "services[0].auth.token", wantMsg: `credential key "" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)`},
		{name: "bearer-foreign-field", list: with(func(s *Service) { s.Auth.Username = "U" }),
			wantField: "services[0].auth.username", wantMsg: `field "username" does not belong to auth type "bearer"`},
		{name: "passthrough-foreign-field", list: with(func(s *Service) { s.Auth = Auth{Type: AuthPassthrough, Headers: map[string]string{}} }),
			wantField: "services[0].auth.headers", wantMsg: `field "headers" does not belong to auth type "passthrough"`},
		{name: "api-key-reserved-header", list: with(func(s *Service) { s.Auth = Auth{Type: AuthAPIKey, Key: "K", Header: "Host"} }),
			wantField: "services[0].auth.header", wantMsg: `header "Host" is managed by the proxy`},
		{name: "api-key-bad-header", list: with(func(s *Service) { s.Auth = Auth{Type: AuthAPIKey, Key: "K", Header: "X Key"} }),
			wantField: "services[0].auth.header", wantMsg: `"X Key" is not a valid header name`},
		{name: "api-key-prefix-crlf", list: with(func(s *Service) { s.Auth = Auth{Type: AuthAPIKey, Key: "K", Prefix: "a\r\nb"} }),
			wantField: "services[0].auth.prefix", wantMsg: `prefix may not contain control characters`},
		{name: "custom-empty", list: with(func(s *Service) { s.Auth = Auth{Type: AuthCustom, Headers: map[string]string{}} }),
			wantField: "services[0].auth.headers", wantMsg: `list at least one header`},
		{name: "custom-no-ref", list: with(func(s *Service) { s.Auth = Auth{Type: AuthCustom, Headers: map[string]string{"X-A": "literal"}} }),
			wantField: "services[0].auth.headers.X-A", wantMsg: `template references no credential key; write {{ KEY }}`},
		{name: "custom-bad-ref", list: with(func(s *Service) { s.Auth = Auth{Type: AuthCustom, Headers: map[string]string{"X-A": "{{ lower }}"}} }),
			wantField: "services[0].auth.headers.X-A", wantMsg: `template reference "lower" is not a credential key (^[A-Z][A-Z0-9_]*$)`},
		{name: "custom-unclosed", list: with(func(s *Service) { s.Auth = Auth{Type: AuthCustom, Headers: map[string]string{"X-A": "{{ A"}} }),
			wantField: "services[0].auth.headers.X-A", wantMsg: `unclosed "{{" in template`},
		{name: "sub-bad-placeholder", list: with(func(s *Service) { s.Substitutions[0].Placeholder = "{{X}}" }),
			wantField: "services[0].substitutions[0].placeholder", wantMsg: `placeholder "{{X}}" must be 4 to 128 characters of A-Z a-z 0-9 _ . ~ -`},
		{name: "sub-no-surface", list: with(func(s *Service) { s.Substitutions[0].In = nil }),
			wantField: "services[0].substitutions[0].in", wantMsg: `list at least one of path, query, header, body`},
		{name: "sub-bad-surface", list: with(func(s *Service) { s.Substitutions[0].In = []Surface{"path", "cookie"} }),
			wantField: "services[0].substitutions[0].in[1]", wantMsg: `unknown surface "cookie" (want path, query, header or body)`},
		{name: "sub-overlap", list: with(func(s *Service) {
			s.Substitutions = append(s.Substitutions, Substitution{Key: "B", Placeholder: "__ACCOUNT__2", In: []Surface{"body"}})
		}), wantField: "services[0].substitutions[1].placeholder", wantMsg: `placeholder "__ACCOUNT__2" overlaps "__ACCOUNT__"`},
		{name: "duplicate-name", list: []Service{validStripe(), validStripe()},
			wantField: "services[1].name", wantMsg: `service name "stripe" is already used by services[0]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateServices(tc.list)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("err = %#v, want *Error", err)
			}
			if e.Code != CodeInvalidService || e.Field != tc.wantField || e.Message != tc.wantMsg {
				t.Fatalf("got {%s %s %q}, want {%s %s %q}", e.Code, e.Field, e.Message, CodeInvalidService, tc.wantField, tc.wantMsg)
			}
		})
	}
}

func TestCheckServiceHosts(t *testing.T) {
	tests := []struct {
		host         string
		allowPrivate bool
		wantErr      string
	}{
		{host: "api.x.com"},
		{host: "127.0.0.1:9000", wantErr: `invalid_service: services[0].host: host "127.0.0.1:9000" is an IP address or localhost, which a service may name only when the server allows private ranges: that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart`},
		{host: "[::1]", wantErr: `invalid_service: services[0].host: host "[::1]" is an IP address or localhost, which a service may name only when the server allows private ranges: that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart`},
		{host: "localhost:8080", wantErr: `invalid_service: services[0].host: host "localhost:8080" is an IP address or localhost, which a service may name only when the server allows private ranges: that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart`},
		{host: "app.localhost", wantErr: `invalid_service: services[0].host: host "app.localhost" is an IP address or localhost, which a service may name only when the server allows private ranges: that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart`},
		{host: "*.dev.localhost", wantErr: `invalid_service: services[0].host: host "*.dev.localhost" is an IP address or localhost, which a service may name only when the server allows private ranges: that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart`},
		{host: "127.0.0.1:9000", allowPrivate: true},
		{host: "localhost", allowPrivate: true},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			err := CheckServiceHosts([]Service{{Name: "s", Host: tc.host, Auth: Auth{Type: AuthPassthrough}}}, tc.allowPrivate)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("err = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestServiceKeys(t *testing.T) {
	s := Service{Auth: Auth{Type: AuthCustom, Headers: map[string]string{"X-B": "{{ B }} {{A}}", "X-A": "{{ A }}"}},
		Substitutions: []Substitution{{Key: "C"}, {Key: "A"}}}
	if got, want := s.Keys(), []string{"A", "B", "C"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
	if got, want := validStripe().Keys(), []string{"STRIPE_KEY", "ACCOUNT_ID"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
}

// TestServiceWireShape pins the JSON and YAML field names the API and the
// service files use.
func TestServiceWireShape(t *testing.T) {
	const in = `{"name":"stripe","host":"api.stripe.com","enabled":true,"auth":{"type":"bearer","token":"STRIPE_KEY"},"substitutions":[{"key":"ACCOUNT_ID","placeholder":"__ACCOUNT__","in":["path","query"]}]}`
	var s Service
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, validStripe()) {
		t.Fatalf("decoded %+v", s)
	}
	out, _ := json.Marshal(s)
	if string(out) != in {
		t.Fatalf("round trip:\n got %s\nwant %s", out, in)
	}
	const y = "name: stripe\nhost: api.stripe.com\nenabled: true\nauth:\n  type: bearer\n  token: STRIPE_KEY\nsubstitutions:\n  - key: ACCOUNT_ID\n    placeholder: __ACCOUNT__\n    in: [path, query]\n"
	var sy Service
	if err := yaml.Unmarshal([]byte(y), &sy); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sy, validStripe()) {
		t.Fatalf("yaml decoded %+v", sy)
	}
	if (Service{}).IsEnabled() != true || (Service{Enabled: off()}).IsEnabled() {
		t.Fatal("IsEnabled: absent must mean on, false must mean off")
	}
}

func FuzzParseHostPattern(f *testing.F) {
	for _, s := range []string{"api.x.com", "*.x.com", "h:1/p*", "[::1]:80/a", "0x7f.1", "a..b", "[", "*.*", "x/*"} {
		f.Add(s, "api.x.com", "443", "/v1")
	}
	f.Fuzz(func(t *testing.T, pattern, host, port, path string) {
		p, err := ParseHostPattern(pattern)
		if err != nil {
			return
		}
		if p.Wildcard == (p.Suffix == "") || p.Wildcard == (p.Host != "") {
			t.Fatalf("%q: inconsistent %+v", pattern, p)
		}
		if p.Host != strings.ToLower(p.Host) || p.Suffix != strings.ToLower(p.Suffix) {
			t.Fatalf("%q: not lower-case %+v", pattern, p)
		}
		if p.Matches(host, port, path) && !p.Wildcard && host != p.Host {
			t.Fatalf("%q matched foreign host %q", pattern, host)
		}
		// A pattern always matches its own host, port and path.
		h := p.Host
		if p.Wildcard {
			h = "a." + p.Suffix
		}
		if !p.Matches(h, p.Port, p.Path) && p.Port != "" {
			t.Fatalf("%q does not match itself", pattern)
		}
	})
}

func FuzzExpandTemplate(f *testing.F) {
	for _, s := range []string{"{{ A }}", "Token {{A}}:{{ B_2 }}", "{{", "}}", "{{}}", "a{{ A }}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		var b strings.Builder
		err := ExpandTemplate(tmpl, func(k string) (string, error) {
			if !ValidKey(k) {
				t.Fatalf("invalid key %q passed to value", k)
			}
			return "<" + k + ">", nil
		}, &b)
		if err == nil && strings.Contains(b.String(), "{{") && !strings.Contains(tmpl, "{{{") {
			t.Fatalf("%q expanded to %q with a reference left", tmpl, b.String())
		}
	})
}

// TestServiceJSONGolden pins the JSON of every auth type, the shape the API
// returns and the service files hold.
func TestServiceJSONGolden(t *testing.T) {
	list := []Service{
		validStripe(),
		{Name: "github", Host: "api.github.com", Auth: Auth{Type: AuthBasic, Username: "GH_USER", Password: "GH_TOKEN"}},
		{Name: "openai", Host: "api.openai.com/v1/*", Enabled: off(), Auth: Auth{Type: AuthAPIKey, Key: "OPENAI_KEY", Header: "Authorization", Prefix: "Bearer "}},
		{Name: "signed", Host: "*.example.com:8443", Auth: Auth{Type: AuthCustom, Headers: map[string]string{"X-Sig": "{{ SIG_KEY }}", "X-Account": "acct-{{ACCOUNT_ID}}"}}, AllowSetCookie: true},
		{Name: "public", Host: "[2001:db8::1]:80/status", Auth: Auth{Type: AuthPassthrough}},
	}
	if err := ValidateServices(list); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckFile(t, "testdata/services.golden.json", append(got, '\n'))
	var back []Service
	if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, list) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
}

func TestSuggestKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"lower_case", "LOWER_CASE"},
		{"stripe-key", "STRIPE_KEY"},
		{"db.pass", "DB_PASS"},
		{"Mixed_Case9", "MIXED_CASE9"},
		{"9LIVES", ""},   // a leading digit has no obvious fix
		{"KEY$", ""},     // nor does a character outside the rule
		{"GOOD_KEY", ""}, // already valid: nothing to suggest
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := SuggestKey(tc.key); got != tc.want {
				t.Fatalf("SuggestKey(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
	if err := CheckKey("lower_case"); err == nil || !strings.Contains(err.Error(), `did you mean "LOWER_CASE"?`) {
		t.Fatalf("CheckKey(lower_case) = %v, want the suggestion", err)
	}
}

func TestCheckNotEmpty(t *testing.T) {
	err := CheckNotEmpty("STRIPE_KEY", "", false)
	var de *Error
	if !errors.As(err, &de) || de.Code != CodeEmptyValue || !strings.Contains(de.Message, `"STRIPE_KEY"`) {
		t.Fatalf("CheckNotEmpty(empty) = %v, want %s naming the key", err, CodeEmptyValue)
	}
	if err := CheckNotEmpty("STRIPE_KEY", "", true); err != nil {
		t.Fatalf("an intended empty value: %v", err)
	}
	if err := CheckNotEmpty("STRIPE_KEY", "x", false); err != nil {
		t.Fatalf("a value: %v", err)
	}
}
