// Package abi is the contract between the Agent Vault host and its store
// plugins: the names of exports and imports, their wasm signatures, the ABI
// version, the stable error codes a plugin may return, and the JSON shapes
// and packing helpers used at the boundary.
//
// Both the host (host/plugin) and the guest library (sdk) import this package,
// so it depends on neither wazero nor net/http. sdk/ABI.md documents every
// name declared here; a test keeps the two in agreement.
package abi

import (
	"fmt"
	"strings"
)

// Version is the ABI major version this package describes. A plugin declares
// it from its abi_version export; the host refuses any other value.
const Version = 1

// ModuleName is the import module that carries the host functions. The major
// version is part of the name, so a plugin built for another major fails at
// load with a clear message, and a future host can serve both side by side.
const ModuleName = "agent_vault_v1"

// WASIModuleName is the only other import module a plugin may use. The host
// provides it with no files, no arguments, no environment and no sockets.
const WASIModuleName = "wasi_snapshot_preview1"

// Export names, in lower_snake_case.
const (
	ExportMemory         = "memory"
	ExportInitialize     = "_initialize"
	ExportABIVersion     = "abi_version"
	ExportAlloc          = "alloc"
	ExportFree           = "free"
	ExportManifest       = "manifest"
	ExportValidateConfig = "validate_config"
	ExportProbe          = "probe"
	ExportSync           = "sync"
	ExportValidateWrite  = "validate_write"
	ExportDynamicList    = "dynamic_list"
	ExportLeaseCreate    = "lease_create"
	ExportLeaseRenew     = "lease_renew"
	ExportLeaseRevoke    = "lease_revoke"
	ExportCheck          = "check"
)

// Import names, in lower_snake_case, all in module ModuleName.
const (
	ImportHTTPRequest  = "http_request"
	ImportHTTPResponse = "http_response"
	ImportHTTPBody     = "http_body"
	ImportLog          = "log"
	ImportTimeNow      = "time_now"
)

// ValType is a wasm value type, numbered as in the binary format.
type ValType byte

const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

func (v ValType) String() string {
	switch v {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return fmt.Sprintf("0x%02x", byte(v))
}

// Signature is a function type.
type Signature struct {
	Params  []ValType
	Results []ValType
}

// String renders the signature as "(i32,i32)->(i64)", the form used in load
// errors and in the documentation test.
func (s Signature) String() string {
	return "(" + joinTypes(s.Params) + ")->(" + joinTypes(s.Results) + ")"
}

// Equal reports whether s and o have the same parameter and result types.
func (s Signature) Equal(o Signature) bool {
	return joinTypes(s.Params) == joinTypes(o.Params) && joinTypes(s.Results) == joinTypes(o.Results)
}

func joinTypes(ts []ValType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ",")
}

func sig(params []ValType, results ...ValType) Signature {
	return Signature{Params: params, Results: results}
}

var (
	none   []ValType
	oneI32 = []ValType{I32}
	ptrLen = []ValType{I32, I32}
)

// Function describes one export or import: its name, signature and, for
// exports, the feature bit that makes it required (0: always required).
type Function struct {
	Name      string
	Signature Signature
	// Feature is the manifest bit that makes this export required. Zero
	// means every plugin must export it.
	Feature Feature
}

// Exports lists every function export of the ABI in documentation order.
// The exported linear memory (ExportMemory) and the reactor initialiser
// (ExportInitialize, optional, () -> ()) are checked separately.
var Exports = []Function{
	{Name: ExportABIVersion, Signature: sig(none, I32)},
	{Name: ExportAlloc, Signature: sig(oneI32, I32)},
	{Name: ExportFree, Signature: sig(oneI32)},
	{Name: ExportManifest, Signature: sig(none, I64)},
	{Name: ExportValidateConfig, Signature: sig(ptrLen, I64)},
	{Name: ExportProbe, Signature: sig(ptrLen, I64)},
	{Name: ExportSync, Signature: sig(ptrLen, I64), Feature: FeaturePolls},
	{Name: ExportValidateWrite, Signature: sig(ptrLen, I64), Feature: FeatureWritable},
	{Name: ExportDynamicList, Signature: sig(ptrLen, I64), Feature: FeatureDynamicSecrets},
	{Name: ExportLeaseCreate, Signature: sig(ptrLen, I64), Feature: FeatureDynamicSecrets},
	{Name: ExportLeaseRenew, Signature: sig(ptrLen, I64), Feature: FeatureDynamicSecrets},
	{Name: ExportLeaseRevoke, Signature: sig(ptrLen, I64), Feature: FeatureDynamicSecrets},
	{Name: ExportCheck, Signature: sig(ptrLen, I64), Feature: FeatureCheck},
}

// Imports lists every host function in module ModuleName.
var Imports = []Function{
	{Name: ImportHTTPRequest, Signature: sig(ptrLen, I32)},
	{Name: ImportHTTPResponse, Signature: sig(ptrLen, I32)},
	{Name: ImportHTTPBody, Signature: sig(ptrLen, I32)},
	{Name: ImportLog, Signature: sig([]ValType{I32, I32, I32})},
	{Name: ImportTimeNow, Signature: sig(none, I64)},
}

// Feature is a bit in the manifest's "features" field.
type Feature uint32

const (
	// FeatureWritable: the store accepts local writes (the host holds the
	// values; the plugin validates them through validate_write). Without it
	// the store is read-only: the host refuses writes with
	// credential_store_read_only and never calls validate_write.
	FeatureWritable Feature = 1 << 0
	// FeaturePolls: the store is an external source of truth; the host's
	// scheduler calls sync on a cadence and on demand. Without it the host
	// never calls sync.
	FeaturePolls Feature = 1 << 1
	// FeatureDynamicSecrets: the store mints short-lived credentials through
	// dynamic_list and lease_*. Without it the host never calls them and
	// resolves only static credentials.
	FeatureDynamicSecrets Feature = 1 << 2
	// FeatureCheck: the store can verify its instance-level settings (log
	// in, reach its service) without a vault config, through check. The host
	// calls it once at start and logs the outcome. Without it the settings
	// are first exercised by the first vault operation.
	FeatureCheck Feature = 1 << 3

	// KnownFeatures is every bit this version of the ABI defines.
	KnownFeatures = FeatureWritable | FeaturePolls | FeatureDynamicSecrets | FeatureCheck
)

// Has reports whether all bits of f2 are set in f.
func (f Feature) Has(f2 Feature) bool { return f&f2 == f2 }
