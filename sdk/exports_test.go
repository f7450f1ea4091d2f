package sdk

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// TestWasmDirectivesMatchABI checks that the wasm build exports every
// function of abi.Exports and imports exactly abi.Imports (the wasm files are
// not compiled by a native `go test`, so their directives are read here).
func TestWasmDirectivesMatchABI(t *testing.T) {
	directives := func(path, re string) string {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(string(src), -1) {
			names = append(names, m[1])
		}
		sort.Strings(names)
		return strings.Join(names, ",")
	}
	names := func(fs []abi.Function) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got, want := directives("wasm.go", `(?m)^//go:wasmexport ([a-z_]+)$`), names(abi.Exports); got != want {
		t.Errorf("wasm.go exports %s, abi.Exports lists %s", got, want)
	}
	if got, want := directives("internal/host/wasm.go", `(?m)^//go:wasmimport `+abi.ModuleName+` ([a-z_]+)$`), names(abi.Imports); got != want {
		t.Errorf("internal/host/wasm.go imports %s, abi.Imports lists %s", got, want)
	}
}
