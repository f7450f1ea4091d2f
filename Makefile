# Agent Vault build. `make run` starts the server on its embedded default;
# `make test` runs every test. Store plugins are built before the host, since
# the host embeds them.

GO      ?= go
BIN     := bin/agent-vault
# make run DATADIR=/tmp/av ARGS='--allow-private-ranges' starts the server on
# another data directory with extra server flags (README: Server settings).
DATADIR ?= $(HOME)/.agent-vault
ARGS    ?=
# The version the binary and the server report: `git describe` of a tagged
# commit, else 0.0.0-dev with the commit as build metadata.
VERSION ?= $(shell v=$$(git describe --tags --dirty 2>/dev/null) && echo "$${v\#v}" || { h=$$(git describe --always --dirty 2>/dev/null) && echo "0.0.0-dev+$$h" || echo 0.0.0-dev; })
LDFLAGS := -X github.com/agent-vault/agent-vault/host/version.Version=$(VERSION)

.PHONY: all build run test plugins generate bench bench-proxy bench-scrub bench-metrics bench-start clean

all: build

# plugins/plugins.mk defines `plugins`: it builds every shipped store plugin
# (GOOS=wasip1) into plugins/dist, where the host embeds them.
include plugins/plugins.mk

# The browser UI (web/) is built with npm and embedded into the binary.
WEB_SRC := $(shell find web/src web/public web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

.PHONY: web
web: web/dist/index.html

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build

build: plugins web
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	$(BIN) server --data-dir $(DATADIR) $(ARGS)

test: build
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	# The API and Infisical end-to-end suites run again on PostgreSQL when
	# it is installed (host/store runs both dialects itself, the replica
	# proofs run on PostgreSQL); CI installs it.
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then \
		echo "AGENT_VAULT_TEST_DATABASE=postgres $(GO) test -count=1 ./host/api/ ./plugins/infisical/e2e/"; \
		AGENT_VAULT_TEST_DATABASE=postgres $(GO) test -count=1 ./host/api/ ./plugins/infisical/e2e/; \
	elif [ "$$CI" = true ]; then \
		echo "PostgreSQL is not installed: the PostgreSQL suites cannot run" >&2; exit 1; \
	else \
		echo "# POSTGRESQL SUITES SKIPPED: PostgreSQL is not installed (Debian: apt-get install postgresql)"; \
	fi
	# The packages where goroutines share connections and caches run again
	# under the race detector.
	$(GO) test -count=1 -race ./host/proxy/ ./host/plugin/ ./host/vaultcache/ ./host/requestlog/
	@$(MAKE) --no-print-directory browser-check

# Outside CI the browser tests of web/ skip without Chromium (under CI=true
# they fail instead); say so where nobody can miss it, not only in -v output.
.PHONY: browser-check
browser-check:
	@if [ "$$CI" != true ] && [ -z "$$CHROMIUM" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
		echo; \
		echo "################################################################"; \
		echo "# BROWSER TESTS SKIPPED: Chromium is not installed.            #"; \
		echo "# Debian/Ubuntu: sudo apt-get install -y chromium              #"; \
		echo "################################################################"; \
	fi

# generate rewrites every generated file from its source of truth; CI fails
# when the committed copies drift (the tests compare them byte for byte).
generate:
	$(GO) run . openapi > openapi/openapi.json
	$(GO) generate ./openapi
	cd web && npm run gen:api

bench: plugins
	$(GO) test -run '^$$' -bench . -benchmem ./host/...

# bench-proxy loads the real server on loopback: direct vs proxied plain HTTP
# vs CONNECT/MITM at concurrency 1, 16 and 64, with latency, upstream dials
# and server RSS; then the in-process proxy benchmark.
bench-proxy: build
	$(GO) run ./host/proxy/loadtest -bin $(BIN) -rounds 3
	$(GO) test -run '^$$' -bench BenchmarkProxy -benchtime 5000x ./host/proxy

# bench-scrub measures what response scrubbing costs on the real server at
# c=16 with 10 and with 1,000 credentials in the vault: each run has the
# same requests to services that scrub and to services that opt out.
bench-scrub: build
	$(GO) run ./host/proxy/loadtest -bin $(BIN) -concurrency 16 -rounds 3 -credentials 10 \
		-modes direct,proxy-http-noscrub,proxy-http,direct-tls,proxy-mitm-noscrub,proxy-mitm
	$(GO) run ./host/proxy/loadtest -bin $(BIN) -concurrency 16 -rounds 3 -credentials 1000 \
		-modes direct,proxy-http-noscrub,proxy-http,direct-tls,proxy-mitm-noscrub,proxy-mitm
	$(GO) test -run '^$$' -bench BenchmarkScrubCost -benchtime 2000x -count 6 ./host/proxy

# bench-metrics measures, in one run with the rounds interleaved cell by
# cell, the proxy with metrics on (the default), with metrics off, and with
# the audit trail's file sink on; the report gives each variant's req/s as
# a ratio to metrics-on. Compare ratios, not absolute figures. Six rounds:
# each round starts with the next variant, so each runs first twice.
bench-metrics: build
	$(GO) run ./host/proxy/loadtest -bin $(BIN) -rounds 6 -concurrency 1,16 -modes direct,proxy-http,proxy-mitm \
		-variant metrics-on -variant metrics-off:AGENT_VAULT_METRICS=false \
		-variant audit-sink:AGENT_VAULT_AUDIT_FILE=/dev/null

# bench-start times the server's first start (fresh data directory) and a
# restart until both ports answer, with its RSS at ready and its peak.
bench-start: build
	$(GO) run ./host/server/startbench -bin $(BIN) -n 5

clean:
	rm -rf bin plugins/dist/*.wasm plugins/dist/_examples
