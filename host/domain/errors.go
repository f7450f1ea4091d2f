// Package domain holds the vocabulary every other host package shares:
// vaults, credential keys, services, roles, and the stable error codes that
// the API, the CLI and the UI show to people and scripts.
//
// It imports nothing from the rest of the host, so every package may import it.
package domain

import (
	"errors"
	"fmt"
)

// Stable, machine-readable error codes. They appear as the `code` member of
// every RFC 9457 problem the API returns and are printed by the CLI, so once
// published they never change meaning.
const (
	CodeInvalidInput       = "invalid_input"
	CodeInvalidVaultName   = "invalid_vault_name"
	CodeInvalidKey         = "invalid_credential_key"
	CodeValueTooLarge      = "credential_value_too_large"
	CodeEmptyValue         = "empty_credential_value"
	CodeInvalidService     = "invalid_service"
	CodeNotFound           = "not_found"
	CodeVaultNotFound      = "vault_not_found"
	CodeConflict           = "conflict"
	CodeAlreadyExists      = "already_exists"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeLastOwner          = "last_owner"
	CodeLastAdmin          = "last_admin"
	CodeDefaultVault       = "default_vault_protected"
	CodeExternalStore      = "external_credential_store"
	CodeExternalInvalidKey = "external_store_invalid_key"
	CodeSyncInFlight       = "sync_in_flight"
	CodeInternal           = "internal_error"
	CodeAlreadyInitialized = "already_initialized"
	CodeInvalidCredentials = "invalid_credentials"
	CodeWeakPassword       = "weak_password"
	CodeInviteInvalid      = "invite_invalid"
	// CodePasswordResetInvalid: a password-reset link is unknown, expired or used.
	CodePasswordResetInvalid = "password_reset_invalid"
	// CodeEmailDomainNotAllowed: the instance only admits other email domains.
	CodeEmailDomainNotAllowed = "email_domain_not_allowed"
	CodeDynamicReadOnly       = "dynamic_credential_read_only"
	CodeCredentialNotFound    = "credential_not_found"
	CodePluginNotFound        = "plugin_not_found"
	CodeInvalidStoreConfig    = "invalid_store_config"
	CodeNotImplemented        = "not_implemented"
)

// Error is a failure that carries a stable code. Message is safe to show to
// the caller: it never contains a credential value.
type Error struct {
	Code    string
	Message string
	// Field names the input field at fault, in JSON-path form
	// ("services[0].auth.token"), when there is one.
	Field string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError builds an *Error that names the offending input field.
func FieldError(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the stable code of err, or CodeInternal when err carries none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Codes of requests refused to bound what a caller can make the server spend.
const (
	// CodeLoginThrottled: too many failed sign-ins from this account or
	// address; the response says when to retry (429, Retry-After).
	CodeLoginThrottled = "login_throttled"
	// CodeServerBusy: the server sheds work it cannot take on now (503,
	// Retry-After).
	CodeServerBusy = "server_busy"
	// CodeRateLimited: a proxy caller or vault exceeded its request rate
	// (429, Retry-After).
	CodeRateLimited = "rate_limited"
	// CodeHostNotServed: the API was called with a Host header that names
	// none of the names it serves (a DNS-rebinding defence).
	CodeHostNotServed = "host_not_served"
)
