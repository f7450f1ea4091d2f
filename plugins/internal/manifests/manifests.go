// Package manifests is the format of plugins/dist/manifests.json: each
// shipped plugin kind's manifest and the SHA-256 of the module it was read
// from, written at build time by plugins/internal/manifestgen.
package manifests

import (
	"encoding/json"
	"fmt"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// Entry is one kind's record.
type Entry struct {
	SHA256   string       `json:"sha256"`
	Manifest abi.Manifest `json:"manifest"`
}

// Set maps a kind to its entry.
type Set map[string]Entry

// Decode reads a manifests.json, validating each manifest as the host
// validates one it reads from a plugin.
func Decode(b []byte) (Set, error) {
	var raw map[string]struct {
		SHA256   string          `json:"sha256"`
		Manifest json.RawMessage `json:"manifest"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	set := make(Set, len(raw))
	for kind, r := range raw {
		m, err := abi.DecodeManifest(r.Manifest)
		if err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", kind, err)
		}
		set[kind] = Entry{SHA256: r.SHA256, Manifest: *m}
	}
	return set, nil
}
