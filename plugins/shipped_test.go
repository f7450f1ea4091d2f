package plugins

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestKindsMatchDirectories keeps Kinds equal to the plugins/<kind>/main.go
// directories plugins.mk builds.
func TestKindsMatchDirectories(t *testing.T) {
	mains, err := filepath.Glob("*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range mains {
		dirs = append(dirs, filepath.Dir(m))
	}
	sort.Strings(dirs)
	kinds := append([]string(nil), Kinds...)
	sort.Strings(kinds)
	if strings.Join(dirs, ",") != strings.Join(kinds, ",") {
		t.Fatalf("Kinds = %v, directories = %v: add the new kind to Kinds", kinds, dirs)
	}
}

func TestShipped(t *testing.T) {
	_, err := Shipped("nope")
	if got, want := err.Error(), `plugin_not_found: no shipped plugin of kind "nope"`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, kind := range Kinds {
		b, err := Shipped(kind)
		if _, statErr := os.Stat(filepath.Join("dist", kind+".wasm")); statErr != nil {
			// Not built: the error tells the operator what to run.
			want := `plugin_not_found: shipped plugin "` + kind + `" not built; run make plugins`
			if err == nil || err.Error() != want || domain.CodeOf(err) != domain.CodePluginNotFound {
				t.Fatalf("got %v, want %q", err, want)
			}
			continue
		}
		if err != nil || len(b) < 8 || string(b[:4]) != "\x00asm" {
			t.Fatalf("%s: %d bytes, %v", kind, len(b), err)
		}
	}
}
