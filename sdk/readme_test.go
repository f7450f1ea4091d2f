package sdk

import (
	"bytes"
	"go/format"
	"os"
	"testing"
)

// TestReadmePlugin keeps the README's complete plugin short and gofmt-clean.
func TestReadmePlugin(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("```go\npackage main"))
	if !ok {
		t.Fatal("README.md has no ```go block with package main")
	}
	code, _, _ := bytes.Cut(rest, []byte("```\n"))
	code = append([]byte("package main"), code...)
	formatted, err := format.Source(code)
	if err != nil {
		t.Fatalf("README plugin does not parse: %v", err)
	}
	if !bytes.Equal(formatted, code) {
		t.Errorf("README plugin is not gofmt-clean:\n%s", formatted)
	}
	if n := bytes.Count(code, []byte("\n")); n >= 40 {
		t.Errorf("README plugin is %d lines; keep it under 40", n)
	}
}
