package abi

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	headingRE = regexp.MustCompile("(?m)^### `([a-z_]+)`\\s*\n+```wat\n(.*)\n```")
	funcRE    = regexp.MustCompile(`^\(func \((export|import "` + ModuleName + `") "([a-z_]+)"\)(.*)\)$`)
	paramRE   = regexp.MustCompile(`\(param \$[a-z_]+ (i32|i64)\)`)
	resultRE  = regexp.MustCompile(`\(result (i32|i64)\)`)
)

func parseTypes(re *regexp.Regexp, s string) []ValType {
	var out []ValType
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		if m[1] == "i32" {
			out = append(out, I32)
		} else {
			out = append(out, I64)
		}
	}
	return out
}

// TestABIDocMatchesConstants parses every ### heading of ABI.md with its WAT
// signature and checks it against Exports and Imports, both ways.
func TestABIDocMatchesConstants(t *testing.T) {
	doc, err := os.ReadFile("../ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]Signature{}
	kinds := map[string]string{}
	for _, m := range headingRE.FindAllStringSubmatch(string(doc), -1) {
		name, wat := m[1], strings.TrimSpace(m[2])
		f := funcRE.FindStringSubmatch(wat)
		if f == nil {
			t.Errorf("### `%s`: signature %q is not (func (export|import ...) ...)", name, wat)
			continue
		}
		if f[2] != name {
			t.Errorf("### `%s` documents %q", name, f[2])
		}
		documented[name] = Signature{Params: parseTypes(paramRE, f[3]), Results: parseTypes(resultRE, f[3])}
		kinds[name] = f[1]
	}
	want := map[string]Signature{ExportInitialize: {}}
	wantKind := map[string]string{ExportInitialize: "export"}
	for _, f := range Exports {
		want[f.Name], wantKind[f.Name] = f.Signature, "export"
	}
	for _, f := range Imports {
		want[f.Name], wantKind[f.Name] = f.Signature, `import "`+ModuleName+`"`
	}
	for name, sig := range want {
		got, ok := documented[name]
		if !ok {
			t.Errorf("%s %q is not documented in ABI.md", wantKind[name], name)
			continue
		}
		if !got.Equal(sig) || kinds[name] != wantKind[name] {
			t.Errorf("ABI.md: %s %q is %s, code says %s %s", kinds[name], name, got, wantKind[name], sig)
		}
	}
	for name := range documented {
		if _, ok := want[name]; !ok {
			t.Errorf("ABI.md documents %q, which sdk/abi does not declare", name)
		}
	}
	// Every guest code and limit value quoted in the doc is the real one.
	for _, code := range GuestCodes {
		if !strings.Contains(string(doc), "`"+code+"`") {
			t.Errorf("guest code %q is not in ABI.md's table", code)
		}
	}
	if !strings.Contains(string(doc), "`"+ModuleName+"`") {
		t.Errorf("ABI.md does not name the module %q", ModuleName)
	}
}
