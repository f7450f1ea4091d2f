package domain

// Stable codes for the master password, the sealed data-encryption key and
// stored password hashes (host/seal).
const (
	// CodeWrongMasterPassword: the master password given does not unwrap the
	// data-encryption key.
	CodeWrongMasterPassword = "wrong_master_password"
	// CodeMasterPasswordRequired: the instance is sealed with a master
	// password and none was given.
	CodeMasterPasswordRequired = "master_password_required"
	// CodeMasterPasswordNotSet: a master password was given, but the instance
	// runs without one.
	CodeMasterPasswordNotSet = "master_password_not_set"
	// CodeSealEnvelopeInvalid: the persisted key envelope cannot be decoded or
	// fails its own integrity checks.
	CodeSealEnvelopeInvalid = "seal_envelope_invalid"
	// CodeSealedValueInvalid: a sealed value is malformed, was tampered with,
	// or belongs to another row (its additional data does not match).
	CodeSealedValueInvalid = "sealed_value_invalid"
	// CodePasswordHashInvalid: a stored password hash is not a well-formed
	// Argon2id PHC string within the accepted parameter bounds.
	CodePasswordHashInvalid = "password_hash_invalid"
)
