package domain

// Stable codes for the outbound network guard (host/netguard).
const (
	// CodeDestinationBlocked: an outbound connection would reach a cloud
	// metadata address, or a private/special address that the operator has
	// not allowed.
	CodeDestinationBlocked = "destination_blocked"
	// CodeInvalidHost: a host name or IP literal cannot be parsed.
	CodeInvalidHost = "invalid_host"
	// CodeInvalidNetworkConfig: a network setting (allowlist, name pinning,
	// allow-private flag) has a malformed value.
	CodeInvalidNetworkConfig = "invalid_network_config"
)
