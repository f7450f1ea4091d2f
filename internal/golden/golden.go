// Package golden compares test output with files under testdata and rewrites
// them when UPDATE_GOLDEN=1, the one switch for every golden file in the
// repository (an environment variable works with `go test ./...`, where a
// flag would break packages that do not define it).
package golden

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Updating reports whether goldens are being rewritten.
func Updating() bool { return os.Getenv("UPDATE_GOLDEN") == "1" }

// Check compares got with the file at path, or rewrites the file when
// UPDATE_GOLDEN=1. On a mismatch it reports the first differing line.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file: %v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s is out of date (run with UPDATE_GOLDEN=1 to rewrite it):\n%s", path, Diff(string(want), string(got)))
	}
}

// Diff describes the first line where want and got differ.
func Diff(want, got string) string {
	wl, gl := splitLines(want), splitLines(got)
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs; trailing bytes differ)"
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
