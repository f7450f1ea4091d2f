//go:build !wasip1

package main

import (
	"encoding/json"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    config
		wantErr string
	}{
		{name: "ok", raw: `{"project_id":"p","environment":"dev","secret_path":"/"}`, want: config{"p", "dev", "/"}},
		{name: "trimmed", raw: `{"project_id":" p ","environment":" dev\t","secret_path":"  /a/b "}`, want: config{"p", "dev", "/a/b"}},
		{name: "missing-project", raw: `{"environment":"dev","secret_path":"/"}`, wantErr: "invalid_store_config: project_id: required"},
		{name: "blank-environment", raw: `{"project_id":"p","environment":"  ","secret_path":"/"}`, wantErr: "invalid_store_config: environment: required"},
		{name: "missing-path", raw: `{"project_id":"p","environment":"dev"}`, wantErr: "invalid_store_config: secret_path: required"},
		{name: "relative-path", raw: `{"project_id":"p","environment":"dev","secret_path":"app"}`, wantErr: "invalid_store_config: secret_path: must start with /"},
		{name: "unknown-field", raw: `{"project_id":"p","environment":"dev","secret_path":"/","x":1}`, wantErr: `invalid_store_config: config: unknown field "x"`},
		{name: "not-object", raw: `[]`, wantErr: "invalid_store_config: config: must be a JSON object"},
		{name: "wrong-type", raw: `{"project_id":1}`, wantErr: "invalid_store_config: config: project_id must be a string"},
		{name: "case-insensitive-keys", raw: `{"Project_ID":"p","ENVIRONMENT":"dev","secret_path":"/"}`, want: config{"p", "dev", "/"}},
		{name: "trailing", raw: `{"project_id":"p"} x`, wantErr: "invalid_store_config: config: invalid JSON at byte 19: trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(json.RawMessage(tc.raw))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Fatalf("error %q, want %q", gotErr, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{"project_id":"p","environment":"dev","secret_path":"/"}`, `{}`, `[]`, `{"secret_path":" /x "}`, `null`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseConfig(json.RawMessage(raw))
		if err != nil {
			return
		}
		if c.ProjectID == "" || c.Environment == "" || c.SecretPath[0] != '/' {
			t.Fatalf("accepted an invalid config: %+v", c)
		}
	})
}
