// Package version holds the build's version, which the CLI prints and the
// server reports in GET /v1/status, so the two always agree.
package version

// Version is stamped at build time by `make build` from `git describe`
// (-ldflags "-X github.com/agent-vault/agent-vault/host/version.Version=…").
// A plain `go build` leaves the placeholder.
var Version = "0.0.0-dev"
