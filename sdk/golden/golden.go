// Package golden is a test helper shared by the host and plugin tests (and
// usable by plugin authors for wire JSON). It compares test output with files under testdata/ and
// rewrites them when UPDATE_GOLDEN=1 is set (an environment variable, not a
// flag, so `go test ./...` works in every package).
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Check compares got with testdata/<name>.golden byte for byte.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	CheckFile(t, filepath.Join("testdata", name+".golden"), got)
}

// CheckFile compares got with the file at path, for goldens that live
// outside testdata (a committed generated document, a published table).
func CheckFile(t testing.TB, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") == "1" {
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
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden (UPDATE_GOLDEN=1 rewrites it):\n%s", path, diff(string(want), string(got)))
	}
}

// diff is a small line diff: enough to point at the first divergence.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + itoa(i+1) + ":\n- " + w + "\n+ " + g + "\n")
		}
	}
	return b.String()
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}
