package sdk

import "github.com/agent-vault/agent-vault/sdk/abi"

// MaxValueBytes bounds one credential value; the host refuses larger ones.
const MaxValueBytes = abi.MaxValueBytes

// CheckKey returns a CodeInvalidCredKey error when key breaks the host's
// key rule (^[A-Z][A-Z0-9_]*$, at most 128 characters), with the message
// the host gives. A Writer calls it from ValidateWrite.
func CheckKey(key string) error {
	if !abi.ValidKey(key) {
		return &Error{Code: CodeInvalidCredKey, Message: abi.InvalidKeyMessage(key)}
	}
	return nil
}

// CheckValue returns a CodeValueTooLarge error when value is larger than
// MaxValueBytes. The message names the key, never the value.
func CheckValue(key, value string) error {
	if len(value) > MaxValueBytes {
		return &Error{Code: CodeValueTooLarge, Message: abi.ValueTooLargeMessage(key, len(value))}
	}
	return nil
}
