package api

import (
	"strings"

	"encoding/json"
	"errors"
	"github.com/agent-vault/agent-vault/host/credstore"
	"net/http"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/danielgtaylor/huma/v2"
)

// Problem is an RFC 9457 problem detail with Agent Vault's stable code.
type Problem struct {
	Type    string              `json:"type,omitempty" doc:"A URI reference that identifies the problem type"`
	Title   string              `json:"title" doc:"Short summary of the HTTP status"`
	Status  int                 `json:"status" doc:"HTTP status code"`
	Detail  string              `json:"detail,omitempty" doc:"Explanation specific to this occurrence"`
	Code    string              `json:"code" doc:"Stable, machine-readable error code (snake_case)"`
	ErrorID string              `json:"error_id,omitempty" doc:"Identifier of an internal error, also written to the server log"`
	Errors  []*huma.ErrorDetail `json:"errors,omitempty" doc:"Each invalid input field"`
}

func (p *Problem) Error() string  { return p.Code + ": " + p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes problems leave as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// writeProblem answers with p outside huma (routing misses).
func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func init() {
	// huma builds its own errors (validation, body too large, not found)
	// through NewError; route them through Problem so every error body has
	// a code.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		p := &Problem{Status: status, Title: http.StatusText(status), Detail: msg, Code: codeForStatus(status)}
		for _, err := range errs {
			var de *domain.Error
			var ed huma.ErrorDetailer
			switch {
			case errors.As(err, &de):
				p.Code = de.Code
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: de.Message, Location: de.Field})
			case errors.As(err, &ed):
				d := *ed.ErrorDetail()
				// huma echoes the offending input in Value; it may be a
				// credential, so it never leaves the server.
				d.Value = nil
				p.Errors = append(p.Errors, &d)
			case err != nil:
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
			}
		}
		return p
	}
}

// codeForStatus names the errors huma raises itself.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return domain.CodeInvalidInput
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusNotFound:
		return domain.CodeNotFound
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusUnauthorized:
		return domain.CodeUnauthorized
	case http.StatusForbidden:
		return domain.CodeForbidden
	case http.StatusConflict:
		return domain.CodeConflict
	}
	if status >= 500 {
		return domain.CodeInternal
	}
	return "error"
}

// statusOf maps every stable domain code to its HTTP status, in one place.
func statusOf(code string) int {
	switch code {
	case domain.CodeInvalidInput, domain.CodeInvalidVaultName, domain.CodeInvalidKey, domain.CodeValueTooLarge, domain.CodeEmptyValue,
		domain.CodeInvalidService, domain.CodeWeakPassword, domain.CodeInviteInvalid, domain.CodeInvalidStoreConfig, domain.CodePasswordResetInvalid, domain.CodeEmailDomainNotAllowed,
		domain.CodeExternalInvalidKey:
		return http.StatusBadRequest
	case domain.CodeUnauthorized, domain.CodeInvalidCredentials:
		return http.StatusUnauthorized
	case domain.CodeForbidden:
		return http.StatusForbidden
	case domain.CodeNotFound, domain.CodeVaultNotFound, domain.CodeCredentialNotFound, domain.CodePluginNotFound:
		return http.StatusNotFound
	case domain.CodeConflict, domain.CodeAlreadyExists, domain.CodeLastOwner, domain.CodeLastAdmin, domain.CodeDefaultVault,
		domain.CodeExternalStore, domain.CodeSyncInFlight, domain.CodeAlreadyInitialized, domain.CodeDynamicReadOnly:
		return http.StatusConflict
	case domain.CodeExternalNotFound, domain.CodeExternalForbidden:
		return http.StatusBadRequest
	case domain.CodeExternalUnreachable, domain.CodeExternalAuthFailed, domain.CodePluginError, domain.CodePluginTrap,
		domain.CodePluginBadResult, domain.CodePluginMemoryLimit, domain.CodePluginOutputLimit:
		return http.StatusBadGateway
	case domain.CodePluginTimeout:
		return http.StatusGatewayTimeout
	case credstore.CodeNotExternal, domain.CodeProposalNotPending, domain.CodeProposalChangeUnconfirmed:
		return http.StatusConflict
	case domain.CodeTooManyProposals, domain.CodeLoginThrottled, domain.CodeRateLimited:
		return http.StatusTooManyRequests
	case domain.CodeServerBusy:
		return http.StatusServiceUnavailable
	case domain.CodeInvalidProposal, domain.CodeVaultRequired:
		return http.StatusBadRequest
	case domain.CodeNotImplemented, domain.CodePluginUnsupported:
		return http.StatusNotImplemented
	case domain.CodeNotReady:
		return http.StatusServiceUnavailable
	case domain.CodeMetricsDisabled:
		return http.StatusNotFound
	}
	if strings.HasSuffix(code, "_not_configured") {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
