package plugins

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TestKindsHaveDirectories checks that every required kind is a
// plugins/<kind>/main.go that plugins.mk builds. Directories not listed in
// Kinds are still built and carried by All; listing them makes them required.
func TestKindsHaveDirectories(t *testing.T) {
	for _, kind := range Kinds {
		if _, err := os.Stat(filepath.Join(kind, "main.go")); err != nil {
			t.Errorf("Kinds lists %q but %s/main.go does not exist", kind, kind)
		}
	}
	mains, _ := filepath.Glob("*/main.go")
	for _, m := range mains {
		if k := filepath.Dir(m); !slices.Contains(Kinds, k) {
			t.Logf("plugins/%s is built and shipped but not required (not in Kinds)", k)
		}
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
