package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/openapi"
	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

// generator must equal the pinned version in openapi/generate.go.
const generator = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// TestGeneratorPinned keeps this test and the go:generate line in step.
func TestGeneratorPinned(t *testing.T) {
	b, err := os.ReadFile("../../generate.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "//go:generate go run "+generator+" ") {
		t.Fatalf("openapi/generate.go does not run %s", generator)
	}
}

// TestEveryOperationHasAMethod needs no generator: a document with an
// operation the committed client lacks means `make generate` was not run.
func TestEveryOperationHasAMethod(t *testing.T) {
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatal("openapi.json lists no operations")
	}
	methods := reflect.TypeFor[*client.Client]()
	for _, op := range ops {
		if _, ok := methods.MethodByName(op.GoName()); !ok {
			t.Errorf("%s %s (%s): the client has no method %s; run make generate", op.Method, op.Path, op.ID, op.GoName())
		}
	}
}

// TestGeneratedClientIsCurrent regenerates the client into a temp dir and
// compares it byte for byte with the committed copy. It runs the pinned
// generator from the module cache only, so the test never
// needs the network; where the generator has not been fetched yet (a fresh
// machine that never ran `make generate`) it skips and says how to enable
// it. CI fetches it through `make generate` before `make test`.
func TestGeneratedClientIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator; skipped under -short")
	}
	dir := t.TempDir()
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "client.gen.go")
	cfg = bytes.Replace(cfg, []byte("output: client/go/client.gen.go"), []byte("output: "+out), 1)
	if !bytes.Contains(cfg, []byte(out)) {
		t.Fatal("oapi-codegen.yaml no longer names output: client/go/client.gen.go")
	}
	cfgPath := filepath.Join(dir, "cfg.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", generator, "-config", cfgPath, "openapi.json")
	cmd.Dir = "../.."
	// The module cache's download directory is itself a module proxy:
	// pointing GOPROXY at it serves what was fetched before and nothing else.
	// Its hashes were checked against the checksum database when fetched.
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	proxy := "file://" + filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download"))
	cmd.Env = append(os.Environ(), "GOPROXY="+proxy, "GOSUMDB=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		if bytes.Contains(msg, []byte("not found")) || bytes.Contains(msg, []byte("no such file")) {
			t.Skipf("%s is not in the module cache; run `make generate` once to fetch it:\n%s", generator, msg)
		}
		t.Fatalf("generator failed: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("openapi/client/go/client.gen.go differs from what %s generates from openapi/openapi.json; run make generate", generator)
	}
}
