package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/openapi"
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
	ops, err := openapi.Operations()
	if err != nil {
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
	for _, op := range ops {
		if _, skip := notCommands[op.ID]; skip {
			continue
		}
		if !called[op.GoName()] {
			t.Errorf("%s %s (%s): no command calls %s", op.Method, op.Path, op.ID, op.GoName())
		}
	}
}
