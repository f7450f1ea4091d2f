package domain

// Stable codes for the interception certificate authority (host/certs).
const (
	// CodeCAInvalid: the persisted CA certificate or key cannot be parsed,
	// do not belong together, or the certificate is not a usable CA.
	CodeCAInvalid = "ca_invalid"
)
