package audit

import (
	"encoding/json"
	"testing"
)

type view struct {
	Role   string   `json:"role"`
	Hosts  []string `json:"hosts"`
	Count  int      `json:"count"`
	Active bool     `json:"active"`
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name     string
		build    func(*Summary)
		wantJSON string
		wantText string
	}{
		{"empty", func(s *Summary) {}, "", ""},
		{"unchanged-field-left-out", func(s *Summary) { s.Set("role", "admin", "admin") }, "", ""},
		{"changed", func(s *Summary) { s.Set("role", "member", "admin") },
			`{"changes":[{"field":"role","before":"member","after":"admin"}]}`, "role: member → admin"},
		{"added-and-removed", func(s *Summary) {
			s.Set("vaults.prod", nil, "admin")
			s.Set("vaults.dev", "member", nil)
		}, `{"changes":[{"field":"vaults.prod","after":"admin"},{"field":"vaults.dev","before":"member"}]}`,
			"vaults.prod: (none) → admin; vaults.dev: member → (none)"},
		{"false-and-empty-are-values", func(s *Summary) {
			s.Set("active", false, true)
			s.Set("name", "", "x")
		}, `{"changes":[{"field":"active","before":false,"after":true},{"field":"name","before":"","after":"x"}]}`,
			`active: false → true; name: "" → x`},
		{"secret", func(s *Summary) { s.Secret("password") }, `{"changes":[{"field":"password","withheld":true}]}`, "password: changed (withheld)"},
		{"diff-struct-order", func(s *Summary) {
			s.Diff("svc", &view{Role: "a", Hosts: []string{"x"}, Count: 1}, &view{Role: "b", Hosts: []string{"x", "y"}, Count: 1, Active: true})
		}, `{"changes":[{"field":"svc.role","before":"a","after":"b"},{"field":"svc.hosts","before":["x"],"after":["x","y"]},{"field":"svc.active","before":false,"after":true}]}`,
			"svc.role: a → b; svc.hosts: [x] → [x, y]; svc.active: false → true"},
		{"diff-created", func(s *Summary) { s.Diff("", (*view)(nil), &view{Role: "a", Count: 2}) },
			`{"changes":[{"field":"role","after":"a"},{"field":"count","after":2},{"field":"active","after":false}]}`,
			"role: (none) → a; count: (none) → 2; active: (none) → false"}, // a null field is an absent one
		{"diff-removed", func(s *Summary) { s.Diff("x", view{Role: "a"}, nil) },
			`{"changes":[{"field":"x.role","before":"a"},{"field":"x.count","before":0},{"field":"x.active","before":false}]}`,
			"x.role: a → (none); x.count: 0 → (none); x.active: false → (none)"},
		{"keys-and-note", func(s *Summary) {
			s.Keys = []string{"A", "B"}
			s.ValueMACs = map[string]string{"A": "m1", "B": "m2"}
			s.Note = "pruned 3 entries"
		}, `{"keys":["A","B"],"value_macs":{"A":"m1","B":"m2"},"note":"pruned 3 entries"}`, "keys: A, B; value MACs: 2; pruned 3 entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Summary
			tc.build(&s)
			if got := string(s.Encode()); got != tc.wantJSON {
				t.Errorf("Encode\n got  %s\n want %s", got, tc.wantJSON)
			}
			if got := s.String(); got != tc.wantText {
				t.Errorf("String\n got  %s\n want %s", got, tc.wantText)
			}
			// Read back, it says the same.
			if tc.wantJSON != "" {
				back, ok := DecodeSummary(s.Encode())
				if !ok || back.String() != tc.wantText || string(back.Encode()) != tc.wantJSON {
					t.Errorf("decoded %v %q %s", ok, back.String(), back.Encode())
				}
			}
		})
	}
}

// Entries recorded before Summary held free-form objects: they are not
// read as a Summary (callers show the raw JSON), and they still verify,
// since the hash covers the stored bytes.
func TestLegacySummaries(t *testing.T) {
	for _, raw := range []string{`{"before":{"name":"a"},"after":{"name":"b"}}`, `{"role":"owner"}`, `{"kind":"infisical"}`, `[]`, `null`} {
		if s, ok := DecodeSummary(json.RawMessage(raw)); ok {
			t.Errorf("%s decoded as a Summary: %+v", raw, s)
		}
		e := entry()
		e.Summary = json.RawMessage(raw)
		e.Seal(0, "")
		v := NewVerifier(0, "")
		if b := v.Add(e); b != nil {
			t.Errorf("%s: %v", raw, b)
		}
	}
}
