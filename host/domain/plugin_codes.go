package domain

// Codes of external credential stores and of the store-plugin runtime. Store
// plugins return the external_store_* codes (sdk/abi declares the same
// strings; a host/plugin test keeps them equal); the runtime produces the
// plugin_* codes about a plugin that failed, trapped or hit a limit.
const (
	CodeExternalUnreachable = "external_store_unreachable"
	CodeExternalAuthFailed  = "external_store_auth_failed"
	CodeExternalNotFound    = "external_store_not_found"
	CodeExternalForbidden   = "external_store_forbidden"
	CodeLeaseNotFound       = "lease_not_found"

	CodePluginError       = "plugin_error"
	CodePluginTrap        = "plugin_trap"
	CodePluginBadResult   = "plugin_bad_result"
	CodePluginTimeout     = "plugin_timeout"
	CodePluginMemoryLimit = "plugin_memory_limit"
	CodePluginOutputLimit = "plugin_output_limit"
	CodePluginInvalid     = "plugin_invalid"
	CodePluginABIMismatch = "plugin_abi_mismatch"
	CodePluginUnsupported = "plugin_unsupported"

	// CodeInvalidPluginGrants: the operator's plugin grants file cannot be
	// read or has a malformed or forbidden entry.
	CodeInvalidPluginGrants = "invalid_plugin_grants"
	// CodePluginNotGranted: a plugin asked for something its grant does not
	// allow (an environment variable, a file), or is not granted at all.
	CodePluginNotGranted = "plugin_not_granted"
)
