# Store plugins: every plugins/<kind>/main.go is a shipped plugin, built for
# GOOS=wasip1 into plugins/dist/<kind>.wasm, where package plugins embeds it.
# The SDK example is built too (dist/_examples/, which the embed skips) so its conformance test and
# the benchmarks can use it. -trimpath makes the builds reproducible.
# -ldflags='-s -w' drops the wasm name section (and DWARF), which the host
# never reads: every load decodes, validates and checksums the whole module,
# so bytes cost time on every start. Go's own panic traces do not need it
# (they use the runtime's tables), and the host reports only a trap's first
# line, which never names a function.

PLUGIN_GO      ?= $(GO)
PLUGIN_DIRS    := $(patsubst %/main.go,%,$(wildcard plugins/*/main.go))
PLUGIN_KINDS   := $(notdir $(PLUGIN_DIRS))
PLUGIN_WASM    := $(patsubst %,plugins/dist/%.wasm,$(PLUGIN_KINDS))
EXAMPLE_DIRS   := $(patsubst %/main.go,%,$(wildcard sdk/examples/*/main.go))
EXAMPLE_WASM   := $(patsubst sdk/examples/%,plugins/dist/_examples/%.wasm,$(EXAMPLE_DIRS))
PLUGIN_BUILD   := GOOS=wasip1 GOARCH=wasm $(PLUGIN_GO) build -buildmode=c-shared -trimpath -ldflags='-s -w'

# WAT test guests of host/plugin, built with wabt's wat2wasm (Debian: wabt).
WAT_SRC        := $(wildcard host/plugin/testdata/*/*.wat)
WAT_WASM       := $(WAT_SRC:.wat=.wasm)

.PHONY: plugins testdata
.FORCE:

plugins: testdata $(PLUGIN_WASM) $(EXAMPLE_WASM)

# Go tracks staleness itself, so the wasm targets always run `go build`,
# which is a cache hit when nothing changed.
plugins/dist/%.wasm: .FORCE
	$(PLUGIN_BUILD) -o $@ ./plugins/$*

plugins/dist/_examples/%.wasm: .FORCE
	@mkdir -p plugins/dist/_examples
	$(PLUGIN_BUILD) -o $@ ./sdk/examples/$*

testdata: $(WAT_WASM)

host/plugin/testdata/%.wasm: host/plugin/testdata/%.wat
	wat2wasm --enable-all --debug-names -o $@ $<
