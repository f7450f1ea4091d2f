package plugin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The WAT test guests' .wasm files are committed beside their .wat sources,
// so the tests (and `make run`, which builds nothing from them) need no
// wabt. This test keeps the two in step: where wat2wasm is installed (CI
// installs it) it rebuilds every guest with the flags of `make testdata` and
// compares the bytes. After editing a .wat, run `make testdata`.
func TestWATGuestsMatchSources(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wat2wasm is not installed (CI=true: the committed test guests must be checked)")
		}
		t.Skip("wat2wasm is not installed (Debian: apt-get install -y wabt); the committed .wasm test guests are not checked against their .wat")
	}
	sources, err := filepath.Glob("testdata/*/*.wat")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no WAT sources found: %v", err)
	}
	dir := t.TempDir()
	for _, src := range sources {
		t.Run(src, func(t *testing.T) {
			committed := src[:len(src)-len(".wat")] + ".wasm"
			want, err := os.ReadFile(committed)
			if err != nil {
				t.Fatalf("%s has no committed %s: run `make testdata` and commit it", src, committed)
			}
			out := filepath.Join(dir, filepath.Base(committed))
			if b, err := exec.Command(wat2wasm, "--enable-all", "--debug-names", "-o", out, src).CombinedOutput(); err != nil {
				t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s is stale: it differs from what wat2wasm builds from %s; run `make testdata` and commit it", committed, src)
			}
		})
	}
}
