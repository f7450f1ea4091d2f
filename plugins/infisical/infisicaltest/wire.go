package infisicaltest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// jsonContentType is what the real server (Fastify) sends with every JSON body.
const jsonContentType = "application/json; charset=utf-8"

// Error names (the `error` member of an error body) the real server uses.
const (
	ErrNameBadRequest       = "BadRequest"
	ErrNameUnauthorized     = "UnauthorizedError"
	ErrNameForbidden        = "ForbiddenError"
	ErrNamePermissionDenied = "PermissionDenied"
	ErrNameToken            = "TokenError"
	ErrNameNotFound         = "NotFound"
	ErrNameSecretPath       = "SecretPathNotFound"
	ErrNameValidation       = "ValidationFailure"
	ErrNameRateLimit        = "RateLimitExceeded"
	ErrNameInternal         = "InternalServerError"
)

// Messages of the real server that tests commonly assert on or inject.
const (
	MsgTokenExpired        = "Your token has expired. Please re-authenticate."
	MsgTokenMalformed      = "The provided access token is malformed. Please re-authenticate."
	MsgTokenMaxAge         = "Identity access token exceeded max age, please re-authenticate"
	MsgTokenMissing        = "Token missing"
	MsgTokenNotFound       = "No identity access token found"
	MsgInvalidCredentials  = "Invalid credentials"
	MsgAuthMethodLocked    = "This identity auth method is temporarily locked, please try again later"
	MsgNotAllowed          = "You are not allowed to access this resource"
	MsgSomethingWentWrong  = "Something went wrong"
	MsgUsesLimitReached    = "Unable to renew because access token number of uses limit reached"
	MsgRenewTTLExpired     = "Failed to renew MI access token due to TTL expiration"
	MsgRenewMaxTTLExpired  = "Failed to renew MI access token due to Max TTL expiration"
	MsgRenewPastMaxTTL     = "Failed to renew MI access token past its Max TTL expiration"
	MsgTokenRevoked        = "Successfully revoked access token"
	MsgReadSecretsDenied   = "You do not have permission to read secret values"
	MsgReferenceDenied     = "Failed to expand one or more secret references"
	MsgNotProjectMember    = "You are not member of this project"
	MsgOtherOrganization   = "This project does not belong to your selected organization."
	MsgLeaseTTLAboveMax    = "TTL cannot be larger than max TTL"
	MsgRenewAboveMax       = "The requested renewal would exceed the maximum allowed lease duration. Please choose a shorter TTL"
	MsgLeaseRevokeFailed   = "Failed to delete"
	MsgInvalidSecretPath   = "Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed."
	MsgMissingProjectParam = "You must provide projectSlug or workspaceId"
	MsgMissingEnvironment  = "Missing project id or environment"
)

// errorBody is the global error handler's answer. Field order follows the
// real server so golden files match it byte for byte.
type errorBody struct {
	ReqID      string `json:"reqId"`
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"` // a string, or an array of issues for 422
	Error      string `json:"error"`
	Details    any    `json:"details,omitempty"`
}

// zodIssue is one element of a 422 ValidationFailure message array.
type zodIssue struct {
	Code     string   `json:"code"`
	Expected string   `json:"expected,omitempty"`
	Received string   `json:"received,omitempty"`
	Options  []string `json:"options,omitempty"`
	Minimum  *int     `json:"minimum,omitempty"`
	Type     string   `json:"type,omitempty"`
	Path     []string `json:"path"`
	Message  string   `json:"message"`
}

func issueEnum(field, got string, options ...string) zodIssue {
	msg := "Invalid enum value. Expected "
	for i, o := range options {
		if i > 0 {
			msg += " | "
		}
		msg += "'" + o + "'"
	}
	msg += ", received '" + got + "'"
	return zodIssue{Code: "invalid_enum_value", Received: got, Options: options, Path: []string{field}, Message: msg}
}

func issueRequired(field string) zodIssue {
	return zodIssue{Code: "invalid_type", Expected: "string", Received: "undefined", Path: []string{field}, Message: "Required"}
}

func issueTooShort(field string) zodIssue {
	one := 1
	return zodIssue{Code: "too_small", Minimum: &one, Type: "string", Path: []string{field}, Message: "String must contain at least 1 character(s)"}
}

func issueCustom(field, msg string) zodIssue {
	path := []string{}
	if field != "" {
		path = append(path, field)
	}
	return zodIssue{Code: "custom", Path: path, Message: msg}
}

// defaultErrorName gives the `error` member the real server uses for a
// status when the thrower sets no custom name.
func defaultErrorName(status int) string {
	switch status {
	case 400:
		return ErrNameBadRequest
	case 401:
		return ErrNameUnauthorized
	case 403:
		return ErrNameForbidden
	case 404:
		return ErrNameNotFound
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 422:
		return ErrNameValidation
	case 429:
		return ErrNameRateLimit
	case 502:
		return "BadGateway"
	case 503:
		return "ServiceUnavailable"
	case 504:
		return "GatewayTimeout"
	}
	if status >= 500 {
		return ErrNameInternal
	}
	return http.StatusText(status)
}

// defaultErrorMessage gives a plausible message for a status.
func defaultErrorMessage(status int) string {
	switch {
	case status == 401 || status == 403:
		return MsgNotAllowed
	case status == 429:
		return "Rate limit exceeded. Please try again in 1 minute"
	case status >= 500:
		return MsgSomethingWentWrong
	}
	return http.StatusText(status)
}

// marshal encodes v compactly, without HTML escaping (Fastify does not
// escape <, > and &), and without a trailing newline.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own wire structs reach here; failing to encode them is a bug.
		panic("infisicaltest: encoding response: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body := marshal(v)
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError is an error answer a handler decided on.
type apiError struct {
	status  int
	name    string
	message any
	details any
}

func newAPIError(status int, name string, message any) *apiError {
	if name == "" {
		name = defaultErrorName(status)
	}
	return &apiError{status: status, name: name, message: message}
}

func validationError(issues ...zodIssue) *apiError {
	return newAPIError(422, ErrNameValidation, issues)
}

// Wire shapes of successful answers. Field order follows the real server.

type wireLogin struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
	TokenType         string `json:"tokenType"`
}

type wireMetadata struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	IsEncrypted bool   `json:"isEncrypted"`
}

type wireTag struct {
	ID    string `json:"id"`
	Slug  string `json:"slug"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

type wireSecret struct {
	ID                       string         `json:"id"`
	LegacyID                 string         `json:"_id"`
	Workspace                string         `json:"workspace"`
	Environment              string         `json:"environment"`
	Version                  int            `json:"version"`
	Type                     string         `json:"type"`
	SecretKey                string         `json:"secretKey"`
	SecretValue              string         `json:"secretValue"`
	SecretComment            string         `json:"secretComment"`
	SecretPath               string         `json:"secretPath"`
	SecretValueHidden        bool           `json:"secretValueHidden"`
	SkipMultilineEncoding    bool           `json:"skipMultilineEncoding"`
	SecretReminderNote       *string        `json:"secretReminderNote"`
	SecretReminderRepeatDays *int           `json:"secretReminderRepeatDays"`
	SecretMetadata           []wireMetadata `json:"secretMetadata"`
	Tags                     []wireTag      `json:"tags"`
	CreatedAt                string         `json:"createdAt"`
	UpdatedAt                string         `json:"updatedAt"`
}

type wireImport struct {
	SecretPath  string       `json:"secretPath"`
	Environment string       `json:"environment"`
	FolderID    string       `json:"folderId"`
	Secrets     []wireSecret `json:"secrets"`
}

type wireListSecrets struct {
	Secrets []wireSecret `json:"secrets"`
	Imports []wireImport `json:"imports"`
}

type wireEnvironment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

type wireProject struct {
	ID                 string            `json:"id"`
	LegacyID           string            `json:"_id"`
	Name               string            `json:"name"`
	Slug               string            `json:"slug"`
	OrgID              string            `json:"orgId"`
	Type               string            `json:"type"`
	Version            int               `json:"version"`
	AutoCapitalization bool              `json:"autoCapitalization"`
	Environments       []wireEnvironment `json:"environments"`
	CreatedAt          string            `json:"createdAt"`
	UpdatedAt          string            `json:"updatedAt"`
}

type wireDynamicSecret struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Version          int            `json:"version"`
	Type             string         `json:"type"`
	DefaultTTL       string         `json:"defaultTTL"`
	MaxTTL           *string        `json:"maxTTL"`
	FolderID         string         `json:"folderId"`
	Status           *string        `json:"status"`
	StatusDetails    *string        `json:"statusDetails"`
	UsernameTemplate *string        `json:"usernameTemplate"`
	CreatedAt        string         `json:"createdAt"`
	UpdatedAt        string         `json:"updatedAt"`
	Metadata         []wireMetadata `json:"metadata"`
	Inputs           map[string]any `json:"inputs,omitempty"`
}

type wireLease struct {
	ID               string             `json:"id"`
	Version          int                `json:"version"`
	ExternalEntityID string             `json:"externalEntityId"`
	ExpireAt         string             `json:"expireAt"`
	Status           *string            `json:"status"`
	StatusDetails    *string            `json:"statusDetails"`
	DynamicSecretID  string             `json:"dynamicSecretId"`
	CreatedAt        string             `json:"createdAt"`
	UpdatedAt        string             `json:"updatedAt"`
	Config           map[string]any     `json:"config"`
	DynamicSecret    *wireDynamicSecret `json:"dynamicSecret,omitempty"`
}

type wireCreateLease struct {
	Lease         wireLease         `json:"lease"`
	DynamicSecret wireDynamicSecret `json:"dynamicSecret"`
	Data          map[string]any    `json:"data"`
}

func strPtr(s string) *string { return &s }
