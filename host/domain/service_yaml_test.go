package domain

import (
	"reflect"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

func TestServicesYAMLRoundTrip(t *testing.T) {
	off := false
	list := []Service{
		{Name: "stripe", Host: "api.stripe.com", Auth: Auth{Type: AuthBearer, Token: "STRIPE_KEY"}},
		{Name: "db", Host: "db.internal:5432", Enabled: &off, Auth: Auth{Type: AuthBasic, Username: "DB_POSTGRES_USERNAME", Password: "DB_POSTGRES_PASSWORD"}},
		{Name: "github", Host: "*.github.com", Auth: Auth{Type: AuthCustom, Headers: map[string]string{"Authorization": "token {{ GITHUB_TOKEN }}"}},
			Substitutions: []Substitution{{Key: "ACCOUNT_ID", Placeholder: "__ACCOUNT__", In: []Surface{SurfacePath, SurfaceQuery}}}, AllowSetCookie: true},
	}
	out, err := MarshalServicesYAML(list)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "services.yaml", out)
	back, err := ParseServicesYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, list) {
		t.Fatalf("round trip changed the services:\n%#v\n%#v", back, list)
	}
}

func TestParseServicesYAMLErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"empty", "", "invalid_service: services file is empty"},
		{"unknown-field", "services:\n  - name: a\n    host: a.com\n    colour: red\n    auth: {type: passthrough}\n", "invalid_service: services file: yaml: unmarshal errors:\n  line 4: field colour not found in type domain.Service"},
		{"two-documents", "services: []\n---\nservices: []\n", "invalid_service: services file must hold exactly one YAML document"},
		{"not-a-list", "services: stripe\n", "invalid_service: services file: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `stripe` into []domain.Service"},
		{"invalid-service", "services:\n  - name: a\n    host: a.com\n    auth: {type: bearer}\n", "invalid_service: services[0].auth.token: credential key \"\" must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseServicesYAML([]byte(tc.in))
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseServicesYAML(f *testing.F) {
	f.Add([]byte("services:\n  - name: a\n    host: a.com\n    auth: {type: passthrough}\n"))
	f.Add([]byte("services: []"))
	f.Add([]byte("services: [{name: x, host: '*.x.com', auth: {type: api-key, key: K, header: X-Key}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseServicesYAML(data)
		if err != nil {
			if CodeOf(err) != CodeInvalidService {
				t.Fatalf("error without the invalid_service code: %v", err)
			}
			return
		}
		// Whatever parses must survive a round trip.
		out, err := MarshalServicesYAML(list)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseServicesYAML(out); err != nil {
			t.Fatalf("re-parsing our own output: %v\n%s", err, out)
		}
	})
}
