//go:build !wasip1

// Package plugins embeds the shipped store plugins, built by `make plugins`
// into plugins/dist, so the server binary carries them.
package plugins

import (
	"unsafe"

	"github.com/agent-vault/agent-vault/host/domain"
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
