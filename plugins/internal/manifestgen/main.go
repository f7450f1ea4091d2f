//go:build !wasip1

// Command manifestgen writes plugins/dist/manifests.json, the build-time
// record of each shipped plugin's manifest and module SHA-256, so the server
// knows every shipped kind's manifest without compiling any of them (an
// unconfigured kind is then never compiled at all). plugins.mk runs it after
// building the modules:
//
//	go run ./plugins/internal/manifestgen -o plugins/dist/manifests.json plugins/dist/builtin.wasm …
//
// A module whose SHA-256 the existing file already records is not loaded
// again, so an unchanged build costs a hash, not a compile.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/agent-vault/agent-vault/host/plugin"
	"github.com/agent-vault/agent-vault/plugins/internal/manifests"
)

func main() {
	out := flag.String("o", "plugins/dist/manifests.json", "file to write")
	flag.Parse()
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "manifestgen:", err)
		os.Exit(1)
	}
}

func run(out string, modules []string) error {
	old := manifests.Set{}
	if b, err := os.ReadFile(out); err == nil {
		old, _ = manifests.Decode(b) // unreadable: rebuild every entry
	}
	var rt *plugin.Runtime
	set := manifests.Set{}
	for _, path := range modules {
		kind := strings.TrimSuffix(filepath.Base(path), ".wasm")
		wasm, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(wasm)
		sha := hex.EncodeToString(sum[:])
		if e, ok := old[kind]; ok && e.SHA256 == sha {
			set[kind] = e
			continue
		}
		if rt == nil {
			ctx := context.Background()
			if rt, err = plugin.NewRuntime(ctx, plugin.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
				return err
			}
			defer rt.Close(ctx)
		}
		p, err := rt.Load(context.Background(), kind, wasm)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		set[kind] = manifests.Entry{SHA256: sha, Manifest: p.Manifest()}
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
