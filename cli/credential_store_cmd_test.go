package cli

import (
	"encoding/json"
	"testing"
)

func TestStoreSpec(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		flags   storeFlags
		want    string
		wantErr string
	}{
		{"builtin", "builtin", storeFlags{InfisicalPath: "/", PollIntervalSeconds: 60}, `{"kind":"builtin"}`, ""},
		{"builtin-with-infisical-flag", "builtin", storeFlags{InfisicalProjectID: "p", InfisicalPath: "/", PollIntervalSeconds: 60}, "",
			"the --infisical-* flags only apply to an infisical store"},
		{"builtin-with-path", "builtin", storeFlags{InfisicalPath: "/x", PollIntervalSeconds: 60}, "", "the --infisical-* flags only apply to an infisical store"},
		{"infisical", "infisical", storeFlags{InfisicalProjectID: "abc123", InfisicalEnvironment: "dev", InfisicalPath: "/stripe", PollIntervalSeconds: 60},
			`{"config":{"environment":"dev","project_id":"abc123","secret_path":"/stripe"},"kind":"infisical","poll_interval_seconds":60}`, ""},
		{"infisical-default-path", "infisical", storeFlags{InfisicalProjectID: "abc123", InfisicalEnvironment: "prod", InfisicalPath: "/", PollIntervalSeconds: 300},
			`{"config":{"environment":"prod","project_id":"abc123","secret_path":"/"},"kind":"infisical","poll_interval_seconds":300}`, ""},
		{"infisical-missing-env", "infisical", storeFlags{InfisicalProjectID: "abc123", InfisicalPath: "/", PollIntervalSeconds: 60}, "",
			"an infisical store needs --infisical-project-id and --infisical-environment"},
		{"other-kind", "vaultish", storeFlags{InfisicalPath: "/", PollIntervalSeconds: 30}, `{"kind":"vaultish","poll_interval_seconds":30}`, ""},
		{"other-kind-infisical-flag", "vaultish", storeFlags{InfisicalEnvironment: "dev", InfisicalPath: "/", PollIntervalSeconds: 30}, "",
			"the --infisical-* flags only apply to an infisical store"},
		{"generic-typed", "openbao", storeFlags{StoreConfig: map[string]string{"mount": "secret", "path": "app", "recursive": "true", "dynamic_roles": "a=db/creds/a, db/creds/b", "kv_version": "2"}, InfisicalPath: "/", PollIntervalSeconds: 30},
			`{"config":{"dynamic_roles":["a=db/creds/a","db/creds/b"],"kv_version":"2","mount":"secret","path":"app","recursive":true},"kind":"openbao","poll_interval_seconds":30}`, ""},
		{"generic-bad-bool", "openbao", storeFlags{StoreConfig: map[string]string{"recursive": "maybe"}, InfisicalPath: "/"}, "",
			`--store-config recursive: want true or false, got "maybe"`},
		{"generic-unknown-field", "openbao", storeFlags{StoreConfig: map[string]string{"project_id": "x"}, InfisicalPath: "/"}, "",
			`--store-config project_id: the openbao config has no field "project_id" (fields: dynamic_roles, kv_version, mount, path, recursive)`},
		{"generic-unknown-kind-untyped", "vaultish", storeFlags{StoreConfig: map[string]string{"n": "1"}, InfisicalPath: "/", PollIntervalSeconds: 30},
			`{"config":{"n":"1"},"kind":"vaultish","poll_interval_seconds":30}`, ""},
		{"generic-on-builtin", "builtin", storeFlags{StoreConfig: map[string]string{"n": "1"}, InfisicalPath: "/"}, "",
			"--store-config and --store-config-file only apply to an external store"},
		{"generic-infisical", "infisical", storeFlags{StoreConfig: map[string]string{"project_id": "p", "environment": "dev", "secret_path": "/"}, InfisicalPath: "/", PollIntervalSeconds: 30},
			`{"config":{"environment":"dev","project_id":"p","secret_path":"/"},"kind":"infisical","poll_interval_seconds":30}`, ""},
		{"config-file-missing", "openbao", storeFlags{StoreConfigFile: "/nonexistent/cfg.json", InfisicalPath: "/"}, "",
			"--store-config-file: open /nonexistent/cfg.json: no such file or directory"},
	}
	schema := func(kind string) (map[string]any, error) {
		var m map[string]any
		switch kind {
		case "openbao":
			json.Unmarshal([]byte(`{"type":"object","properties":{"mount":{"type":"string"},"path":{"type":"string"},"kv_version":{"type":"string"},"recursive":{"type":"boolean"},"dynamic_roles":{"type":"array"}}}`), &m)
		case "infisical":
			json.Unmarshal([]byte(`{"type":"object","properties":{"project_id":{"type":"string"},"environment":{"type":"string"},"secret_path":{"type":"string"}}}`), &m)
		}
		return m, nil
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.flags.spec(tc.kind, schema)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || exitCodeOf(err) != exitUsage {
					t.Fatalf("error %v (exit %d), want %q (exit 2)", err, exitCodeOf(err), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}
