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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.flags.spec(tc.kind)
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
