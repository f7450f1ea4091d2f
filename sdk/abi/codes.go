package abi

// Error codes a plugin may return in its error envelope. The host passes
// them through unchanged to the API, which maps them to HTTP statuses in one
// place. They mirror the host's stable codes (host/domain); a host test
// checks that they agree. A plugin that returns any other code has it
// replaced by CodePluginError, so a plugin cannot impersonate the host's own
// authorisation or validation failures.
const (
	CodeInvalidStoreConfig = "invalid_store_config"
	CodeUnreachable        = "external_store_unreachable"
	CodeAuthFailed         = "external_store_auth_failed"
	CodeNotFound           = "external_store_not_found"
	CodeForbidden          = "external_store_forbidden"
	CodeInvalidKey         = "external_store_invalid_key"
	CodeExternalStore      = "external_credential_store"
	CodeInvalidCredKey     = "invalid_credential_key"
	CodeValueTooLarge      = "credential_value_too_large"
	CodeCredentialNotFound = "credential_not_found"
	CodeLeaseNotFound      = "lease_not_found"
	CodeNotImplemented     = "not_implemented"
)

// GuestCodes is the set of codes a plugin may return.
var GuestCodes = []string{
	CodeInvalidStoreConfig, CodeUnreachable, CodeAuthFailed, CodeNotFound,
	CodeForbidden, CodeInvalidKey, CodeExternalStore, CodeInvalidCredKey,
	CodeValueTooLarge, CodeCredentialNotFound, CodeLeaseNotFound, CodeNotImplemented,
}

// IsGuestCode reports whether code is one a plugin may return.
func IsGuestCode(code string) bool {
	for _, c := range GuestCodes {
		if c == code {
			return true
		}
	}
	return false
}

// Codes the host produces about a plugin, never returned by one.
const (
	// CodePluginError: the plugin failed without one of GuestCodes.
	CodePluginError = "plugin_error"
	// CodePluginTrap: the plugin trapped (panic, out-of-bounds access,
	// unreachable) or exited.
	CodePluginTrap = "plugin_trap"
	// CodePluginBadResult: the plugin returned a malformed pointer, length
	// or envelope.
	CodePluginBadResult = "plugin_bad_result"
	// CodePluginTimeout: the call ran past its deadline.
	CodePluginTimeout = "plugin_timeout"
	// CodePluginMemoryLimit: the plugin tried to grow its memory past the cap.
	CodePluginMemoryLimit = "plugin_memory_limit"
	// CodePluginOutputLimit: the plugin's result was larger than MaxResultBytes.
	CodePluginOutputLimit = "plugin_output_limit"
	// CodePluginInvalid: the module failed validation at load.
	CodePluginInvalid = "plugin_invalid"
	// CodePluginABIMismatch: the module targets another ABI major version.
	CodePluginABIMismatch = "plugin_abi_mismatch"
	// CodePluginUnsupported: the host asked for an operation the plugin's
	// manifest does not declare.
	CodePluginUnsupported = "plugin_unsupported"
)

// Codes of the HTTP capability, returned to the guest in the http_response
// envelope. They are ordinary failures the guest handles (typically mapping
// them to CodeUnreachable); they never trap.
const (
	CodeHTTPOriginDenied   = "http_origin_denied"
	CodeHTTPPrivateAddress = "http_private_address"
	CodeHTTPBadRequest     = "http_bad_request"
	CodeHTTPTimeout        = "http_timeout"
	CodeHTTPFailed         = "http_failed"
	CodeHTTPTooLarge       = "http_response_too_large"
	CodeHTTPNoResponse     = "http_no_response"
)

// Limits at the boundary. ABI.md documents each one.
const (
	// MaxResultBytes caps one export result (the envelope the guest returns).
	// It matches MaxHTTPResponseBody, so a store that can fetch a folder can
	// also return it as a snapshot.
	MaxResultBytes = 16 << 20
	// MaxManifestBytes caps the manifest envelope.
	MaxManifestBytes = 64 << 10
	// MaxMessageBytes caps an error message; longer ones are cut.
	MaxMessageBytes = 1 << 10
	// MaxHTTPRequestBytes caps the encoded HTTP request descriptor.
	MaxHTTPRequestBytes = 2 << 20
	// MaxHTTPResponseBody caps an upstream response body.
	// Infisical answers about 490 bytes per secret with no pagination, so
	// 16 MiB holds a folder of ~30 000 secrets (4 MiB held ~8 000).
	MaxHTTPResponseBody = 16 << 20
	// MaxHTTPHeaders caps the number of header values in a request.
	MaxHTTPHeaders = 64
	// MaxHTTPRedirects caps redirects followed for one request.
	MaxHTTPRedirects = 5
	// MaxLogBytes caps one log message; longer ones are cut.
	MaxLogBytes = 4 << 10
	// MaxLogsPerCall caps log lines per export call; the rest are dropped.
	MaxLogsPerCall = 100
	// MaxEnvFileBytes caps the content the host reads for a file env var.
	MaxEnvFileBytes = 64 << 10
)

// Log levels of the log import, numbered as log/slog's.
const (
	LogDebug int32 = -4
	LogInfo  int32 = 0
	LogWarn  int32 = 4
	LogError int32 = 8
)
