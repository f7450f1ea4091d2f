package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/openapi"
)

// notInUI are the API operations no page calls, with why: each is for
// machines, or its data reaches a page through another operation. A gap
// goes here only as "not in the UI yet: …".
var notInUI = map[string]string{
	"get-health":           "for load balancers",
	"get-ready":            "for load balancers: readiness of one replica",
	"get-metrics":          "for Prometheus scrapers; the Overview page reads get-overview",
	"discover":             "for agents: the machine-readable map of the instance",
	"get-cli-skill":        "for agents: the CLI skill document",
	"get-mitm-ca":          "for the trust stores of agents; `agent-vault run` installs it",
	"create-proposal":      "agents file proposals; people review them on the Proposals tab",
	"admin-list-proposals": "the Proposals tab lists a vault's proposals through list-proposals",
	"get-agent":            "the Agents page's rows are the same AgentView, from list-agents",
	"get-credential-store": "the vault pages read the store (kind, config, sync state) through get-vault-context",
	"replace-services":     "a bulk form for scripts (`service set -f FILE --replace`); the Services tab edits one service at a time",
	"delete-services":      "a bulk form for scripts (`service remove --all`); the Services tab deletes one service at a time",
	"create-canary":        "minted by `agent-vault run --canary NAME` for the program it starts; the Credentials tab lists them",
}

// apiCall is how a page calls an operation: api.GET("/v1/path", …).
var apiCall = regexp.MustCompile(`\bapi\.(GET|POST|PUT|PATCH|DELETE)\(\s*"([^"]+)"`)

// TestEveryOperationHasAControl keeps the UI covering the API the way
// cli's TestEveryOperationHasACommand keeps the CLI covering it: an
// operation added to openapi.json fails here until a page calls it (or
// notInUI says why not), and a reason left behind after a page starts
// calling its operation fails too.
func TestEveryOperationHasAControl(t *testing.T) {
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	err = filepath.WalkDir("src", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".d.ts") || !(strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".tsx")) {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range apiCall.FindAllStringSubmatch(string(src), -1) {
			called[m[1]+" "+m[2]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(called) == 0 {
		t.Fatal("found no api.VERB(\"/path\") call in src: has the client's calling style changed?")
	}
	known := map[string]bool{}
	for _, op := range ops {
		known[op.ID] = true
		call := op.Method + " " + op.Path
		_, excused := notInUI[op.ID]
		switch {
		case !called[call] && !excused:
			t.Errorf("%s (%s): no page calls it; add a control, or a reason to notInUI", call, op.ID)
		case called[call] && excused:
			t.Errorf("%s (%s): a page calls it now; drop it from notInUI", call, op.ID)
		}
	}
	for id := range notInUI {
		if !known[id] {
			t.Errorf("notInUI names %s, which is not an operation", id)
		}
	}
}
