package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/internal/manifests"
)

// TestKindsHaveDirectories checks that Kinds and the plugins/<kind>/main.go
// that plugins.mk builds are the same set, so no built plugin is left out
// of the binary.
func TestKindsHaveDirectories(t *testing.T) {
	for _, kind := range Kinds {
		if _, err := os.Stat(filepath.Join(kind, "main.go")); err != nil {
			t.Errorf("Kinds lists %q but %s/main.go does not exist", kind, kind)
		}
		if _, ok := embedded[kind]; !ok {
			t.Errorf("Kinds lists %q but shipped.go does not embed it", kind)
		}
	}
	mains, _ := filepath.Glob("*/main.go")
	for _, m := range mains {
		if k := filepath.Dir(m); !slices.Contains(Kinds, k) {
			t.Errorf("plugins/%s is built but not shipped: add it to Kinds and embed it in shipped.go", k)
		}
	}
}

func TestShipped(t *testing.T) {
	_, err := Shipped("nope")
	if got, want := err.Error(), `plugin_not_found: no shipped plugin of kind "nope"`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	all, err := All()
	if err != nil || len(all) != len(Kinds) {
		t.Fatalf("All = %d kinds, %v", len(all), err)
	}
	for _, kind := range Kinds {
		b := all[kind]
		onDisk, err := os.ReadFile(filepath.Join("dist", kind+".wasm"))
		if err != nil || string(b) != string(onDisk) || string(b[:4]) != "\x00asm" {
			t.Fatalf("%s: %d bytes embedded, %d on disk (%v)", kind, len(b), len(onDisk), err)
		}
	}
}

// TestBuildManifestsMatchModules: the build's manifest record names every
// shipped kind with the SHA-256 of the module embedded beside it, so a
// stale manifests.json (a module rebuilt without manifestgen) fails here.
func TestBuildManifestsMatchModules(t *testing.T) {
	set, err := manifests.Decode([]byte(manifestsJSON))
	if err != nil {
		t.Fatalf("dist/manifests.json: %v (make plugins writes it)", err)
	}
	for _, kind := range Kinds {
		e, ok := set[kind]
		if !ok {
			t.Errorf("dist/manifests.json has no entry for %s", kind)
			continue
		}
		sum := sha256.Sum256([]byte(embedded[kind]))
		if got := hex.EncodeToString(sum[:]); got != e.SHA256 {
			t.Errorf("%s: module sha256 %s, manifests.json records %s: run make plugins", kind, got, e.SHA256)
		}
		if m, ok := BuildManifest(kind); !ok || m.Kind != kind {
			t.Errorf("BuildManifest(%s) = %q, %v", kind, m.Kind, ok)
		}
	}
	if len(set) != len(Kinds) {
		t.Errorf("manifests.json has %d kinds, want %d", len(set), len(Kinds))
	}
}
