//go:build !wasip1

// Package plugins embeds the shipped store plugins, built by `make plugins`
// into plugins/dist, so the server binary carries them.
package plugins

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// dist/_examples (SDK examples built by make plugins) is excluded: embed
// skips names starting with "_".
//
//go:embed dist
var dist embed.FS

// Kinds lists the shipped plugin kinds the binary must carry; All fails
// without them. plugins.mk builds every plugins/<kind>/main.go, and All also
// returns built kinds not listed here.
var Kinds = []string{"builtin", "infisical"}

// Shipped returns the module bytes of a shipped plugin. It fails with
// plugin_not_found when the kind is not shipped and with a clear
// instruction when the binary was built without `make plugins`.
func Shipped(kind string) ([]byte, error) {
	known := false
	for _, k := range Kinds {
		known = known || k == kind
	}
	b, err := dist.ReadFile(path.Join("dist", kind+".wasm"))
	if err != nil {
		if !known {
			return nil, domain.Errorf(domain.CodePluginNotFound, "no shipped plugin of kind %q", kind)
		}
		return nil, domain.Errorf(domain.CodePluginNotFound, "shipped plugin %q not built; run make plugins", kind)
	}
	return b, nil
}

// All returns every shipped plugin present in the binary, by kind. It
// fails when one of Kinds is missing.
func All() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, k := range Kinds {
		b, err := Shipped(k)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	// Kinds built but not yet listed (a new plugins/<kind>) are carried too.
	entries, _ := fs.ReadDir(dist, "dist")
	for _, e := range entries {
		if k, ok := strings.CutSuffix(e.Name(), ".wasm"); ok && out[k] == nil {
			b, err := dist.ReadFile(path.Join("dist", e.Name()))
			if err != nil {
				return nil, fmt.Errorf("shipped plugin %q: %w", k, err)
			}
			out[k] = b
		}
	}
	return out, nil
}
