package plugin

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// TestHostImportsMatchABI checks that the functions registered with wazero
// are exactly abi.Imports, with the same signatures.
func TestHostImportsMatchABI(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if err := registerHostModule(ctx, r); err != nil {
		t.Fatal(err)
	}
	mod := r.Module(abi.ModuleName)
	if mod == nil {
		t.Fatalf("module %q not registered", abi.ModuleName)
	}
	got := mod.ExportedFunctionDefinitions()
	if len(got) != len(abi.Imports) {
		t.Fatalf("host registers %d functions, abi.Imports lists %d", len(got), len(abi.Imports))
	}
	for _, f := range abi.Imports {
		def, ok := got[f.Name]
		if !ok {
			t.Errorf("import %q is not registered", f.Name)
			continue
		}
		if s := sigOf(def); !s.Equal(f.Signature) {
			t.Errorf("import %q registered as %s, abi says %s", f.Name, s, f.Signature)
		}
	}
}

// TestCodesMatchDomain keeps sdk/abi's code strings equal to host/domain's,
// so the API maps plugin codes to statuses in one place.
func TestCodesMatchDomain(t *testing.T) {
	pairs := map[string]string{
		abi.CodeInvalidStoreConfig: domain.CodeInvalidStoreConfig,
		abi.CodeUnreachable:        domain.CodeExternalUnreachable,
		abi.CodeAuthFailed:         domain.CodeExternalAuthFailed,
		abi.CodeNotFound:           domain.CodeExternalNotFound,
		abi.CodeForbidden:          domain.CodeExternalForbidden,
		abi.CodeInvalidKey:         domain.CodeExternalInvalidKey,
		abi.CodeExternalStore:      domain.CodeExternalStore,
		abi.CodeInvalidCredKey:     domain.CodeInvalidKey,
		abi.CodeValueTooLarge:      domain.CodeValueTooLarge,
		abi.CodeCredentialNotFound: domain.CodeCredentialNotFound,
		abi.CodeLeaseNotFound:      domain.CodeLeaseNotFound,
		abi.CodeNotImplemented:     domain.CodeNotImplemented,
		abi.CodePluginError:        domain.CodePluginError,
		abi.CodePluginTrap:         domain.CodePluginTrap,
		abi.CodePluginBadResult:    domain.CodePluginBadResult,
		abi.CodePluginTimeout:      domain.CodePluginTimeout,
		abi.CodePluginMemoryLimit:  domain.CodePluginMemoryLimit,
		abi.CodePluginOutputLimit:  domain.CodePluginOutputLimit,
		abi.CodePluginInvalid:      domain.CodePluginInvalid,
		abi.CodePluginABIMismatch:  domain.CodePluginABIMismatch,
		abi.CodePluginUnsupported:  domain.CodePluginUnsupported,
	}
	for a, d := range pairs {
		if a != d {
			t.Errorf("abi %q != domain %q", a, d)
		}
	}
	if len(abi.GuestCodes) != 12 {
		t.Errorf("abi.GuestCodes has %d codes; add the new one to this table", len(abi.GuestCodes))
	}
}
