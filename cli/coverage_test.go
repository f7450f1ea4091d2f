package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// notCommands are operations the CLI deliberately does not call, with why.
var notCommands = map[string]string{
	"get-health":  "for load balancers; 'status' reads get-status",
	"get-ready":   "for load balancers: readiness of one replica",
	"get-metrics": "for Prometheus scrapers (an owner token, or --metrics-addr)",
}

// TestEveryOperationHasACommand keeps the CLI covering the whole API: an
// operation added to openapi.json fails here until a command calls its
// generated client method (or notCommands says why not).
func TestEveryOperationHasACommand(t *testing.T) {
	b, err := os.ReadFile("../openapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	var src strings.Builder
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, _ := os.ReadFile(f)
			src.Write(b)
		}
	}
	called := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.api\.(\w+)\(`).FindAllStringSubmatch(src.String(), -1) {
		called[m[1]] = true
	}
	for path, ops := range doc.Paths {
		for verb, op := range ops {
			if _, skip := notCommands[op.OperationID]; skip {
				continue
			}
			var name strings.Builder
			for _, part := range strings.Split(op.OperationID, "-") {
				name.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
			if !called[name.String()] {
				t.Errorf("%s %s (%s): no command calls %s", strings.ToUpper(verb), path, op.OperationID, name.String())
			}
		}
	}
}
