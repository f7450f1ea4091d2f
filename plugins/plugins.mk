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

# WAT test guests of host/plugin. Their .wasm files are committed beside the
# .wat sources, so neither `make run` nor `make test` needs wabt; `make
# testdata` rebuilds them with wabt's wat2wasm (Debian: wabt) after a .wat
# changes, and TestWATGuestsMatchSources fails when a committed one is stale.
WAT_SRC        := $(wildcard host/plugin/testdata/*/*.wat)

.PHONY: plugins testdata
.FORCE:

plugins: plugins/dist/manifests.json $(EXAMPLE_WASM)

# The shipped kinds' manifests, recorded at build time so the server never
# compiles a plugin just to learn what it is (plugins/internal/manifestgen; an
# unchanged module is not loaded again).
plugins/dist/manifests.json: $(PLUGIN_WASM)
	$(GO) run ./plugins/internal/manifestgen -o $@ $(PLUGIN_WASM)

# Go tracks staleness itself, so the wasm targets always run `go build`,
# which is a cache hit when nothing changed.
plugins/dist/%.wasm: .FORCE
	$(PLUGIN_BUILD) -o $@ ./plugins/$*

plugins/dist/_examples/%.wasm: .FORCE
	@mkdir -p plugins/dist/_examples
	$(PLUGIN_BUILD) -o $@ ./sdk/examples/$*

# Always rebuilt: a fresh clone's file times say nothing about which is newer.
testdata:
	@command -v wat2wasm >/dev/null || { echo "make testdata needs wabt's wat2wasm (Debian: apt-get install -y wabt)" >&2; exit 1; }
	@for src in $(WAT_SRC); do echo "wat2wasm $$src"; wat2wasm --enable-all --debug-names -o $${src%.wat}.wasm $$src || exit 1; done
