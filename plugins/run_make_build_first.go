//go:build !wasip1

package plugins

import _ "embed"

// Each shipped module is embedded as a string, not through an embed.FS:
// FS.ReadFile copies the module onto the heap (7 MB for both), while a
// string stays in the binary's read-only data, whose pages the kernel can
// drop again once the module is compiled (plugin.PageOut). The build
// needs the modules: `make plugins` writes them (see dist/README.md).
//
// This file's name is the message: a plain `go build` before `make build`
// fails with "plugins/run_make_build_first.go:…: pattern dist/builtin.wasm:
// no matching files found", and the compiler prints no comment.
var (
	//go:embed dist/builtin.wasm
	builtinWasm string
	//go:embed dist/infisical.wasm
	infisicalWasm string
	//go:embed dist/openbao.wasm
	openbaoWasm string
	// manifestsJSON is plugins/internal/manifestgen's record of each kind's
	// manifest and module SHA-256 (see BuildManifest).
	//go:embed dist/manifests.json
	manifestsJSON string
)
