// Package e2e proves the Infisical credential store end to end: the real
// agent-vault binary (with the real wasm plugin embedded), the Infisical
// emulator and an upstream HTTP server, all on loopback. The harness is
// plugins/internal/storee2e, shared with every store kind.
package e2e

import (
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
	"github.com/agent-vault/agent-vault/plugins/internal/storee2e"
)

func TestMain(m *testing.M) { storee2e.Main(m, closeShared, "infisical") }

type (
	server   = storee2e.Server
	client   = storee2e.Client
	agent    = storee2e.Agent
	upstream = storee2e.Upstream
	summary  = storee2e.Summary
	credRow  = storee2e.CredRow
	problem  = storee2e.Problem
)

var (
	newDataDir    = storee2e.NewDataDir
	startServer   = storee2e.StartServer
	register      = storee2e.Register
	login         = storee2e.Login
	newUpstream   = storee2e.NewUpstream
	newAgent      = storee2e.NewAgent
	bearerService = storee2e.BearerService
)

// infisicalEnv is the instance environment pointing at emu with universal
// auth for identity "id-1".
func infisicalEnv(emu *infisicaltest.Emulator) []string {
	return []string{"INFISICAL_URL=" + emu.URL(), "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=cid", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=csecret"}
}

// storeSpec is the credential_store body of a create or connect.
func storeSpec(project, env, path string, poll int) map[string]any {
	return map[string]any{"kind": "infisical", "config": map[string]string{"project_id": project, "environment": env, "secret_path": path}, "poll_interval_seconds": poll}
}
