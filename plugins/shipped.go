//go:build !wasip1

// Package plugins embeds the shipped store plugins, built by `make plugins`
// into plugins/dist, so the server binary carries them.
package plugins

import (
	"sync"
	"unsafe"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/plugins/internal/manifests"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Kinds lists the shipped plugin kinds, each a plugins/<kind>/main.go that
// plugins.mk builds into dist/<kind>.wasm and this file embeds.
var Kinds = []string{"builtin", "infisical", "openbao"}

var embedded = map[string]string{"builtin": builtinWasm, "infisical": infisicalWasm, "openbao": openbaoWasm}

// Shipped returns the module bytes of a shipped plugin, or plugin_not_found.
// The bytes alias the binary's read-only data: they must never be written
// (a write faults).
func Shipped(kind string) ([]byte, error) {
	s, ok := embedded[kind]
	if !ok {
		return nil, domain.Errorf(domain.CodePluginNotFound, "no shipped plugin of kind %q", kind)
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), nil
}

// All returns every shipped plugin by kind.
func All() (map[string][]byte, error) {
	out := make(map[string][]byte, len(Kinds))
	for _, k := range Kinds {
		b, err := Shipped(k)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// BuildManifest returns the manifest of a shipped kind as the build
// recorded it (plugins/dist/manifests.json), so the server learns what a
// kind needs without compiling it. ok is false when the record is missing
// or unreadable; the caller then loads the plugin to ask it.
// TestBuildManifestsMatchModules keeps the record in step with the modules.
func BuildManifest(kind string) (m abi.Manifest, ok bool) {
	buildManifestsOnce.Do(func() {
		buildManifests, _ = manifests.Decode([]byte(manifestsJSON))
	})
	e, ok := buildManifests[kind]
	return e.Manifest, ok
}

var (
	buildManifestsOnce sync.Once
	buildManifests     manifests.Set
)
