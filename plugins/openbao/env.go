package main

import (
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
)

// Environment variables the plugin reads (all declared in the manifest).
// The names follow OpenBao's own tools (BAO_* there, OPENBAO_* here so
// that they cannot be mistaken for settings of a local bao CLI). The
// address, token and namespace also accept HashiCorp Vault's VAULT_*
// names as manifest fallbacks: the host passes them under the OPENBAO_*
// name when that one is unset.
const (
	envAddr       = "OPENBAO_ADDR"
	envNamespace  = "OPENBAO_NAMESPACE"
	envToken      = "OPENBAO_TOKEN"
	envRoleID     = "OPENBAO_ROLE_ID"
	envSecretID   = "OPENBAO_SECRET_ID"
	envAppRoleAt  = "OPENBAO_APPROLE_MOUNT"
	envK8sRole    = "OPENBAO_KUBERNETES_ROLE"
	envK8sToken   = "OPENBAO_KUBERNETES_TOKEN_PATH"
	envK8sAt      = "OPENBAO_KUBERNETES_MOUNT"
	envJWTPath    = "OPENBAO_JWT_PATH"
	envJWTRole    = "OPENBAO_JWT_ROLE"
	envJWTAt      = "OPENBAO_JWT_MOUNT"
	envTokenRenew = "OPENBAO_TOKEN_INCREMENT"
)

// defaultK8sTokenPath is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

var envVars = []sdk.EnvVar{
	{Name: envAddr, Required: true, Fallback: []string{"VAULT_ADDR"}, Description: "Address of the OpenBao or Vault server, e.g. https://bao.internal:8200 (its origin is granted to the plugin)."},
	{Name: envNamespace, Fallback: []string{"VAULT_NAMESPACE"}, Description: "Namespace to log in to and to read from when a vault names none (X-Vault-Namespace)."},
	{Name: envToken, Fallback: []string{"VAULT_TOKEN"}, Description: "Token auth: a token, renewed before it expires when it is renewable."},
	{Name: envRoleID, Description: "AppRole auth: the role_id."},
	{Name: envSecretID, Description: "AppRole auth: the secret_id."},
	{Name: envAppRoleAt, Default: "approle", Description: "AppRole auth mount path."},
	{Name: envK8sRole, Description: "Kubernetes auth: the role to log in as."},
	{Name: envK8sToken, File: true, Default: defaultK8sTokenPath, Description: "Kubernetes auth: path of the service-account token (the host reads it)."},
	{Name: envK8sAt, Default: "kubernetes", Description: "Kubernetes auth mount path."},
	{Name: envJWTPath, File: true, Description: "JWT/OIDC auth: path of the JWT to log in with (the host reads it)."},
	{Name: envJWTRole, Description: "JWT/OIDC auth: the role (optional; the mount's default_role otherwise)."},
	{Name: envJWTAt, Default: "jwt", Description: "JWT/OIDC auth mount path."},
	{Name: envTokenRenew, Description: "Seconds to ask for when renewing the token (optional; the token's default TTL otherwise)."},
}

// authMethod is one way of getting a token.
type authMethod string

const (
	methodToken      authMethod = "token"
	methodAppRole    authMethod = "approle"
	methodKubernetes authMethod = "kubernetes"
	methodJWT        authMethod = "jwt"
)

// detection lists the methods in the order the first complete one wins:
// token, AppRole, Kubernetes, JWT.
var detection = []struct {
	method   authMethod
	complete func(env map[string]string) bool
}{
	{methodToken, func(e map[string]string) bool { return set(e, envToken) }},
	{methodAppRole, func(e map[string]string) bool { return set(e, envRoleID) }},
	{methodKubernetes, func(e map[string]string) bool { return set(e, envK8sRole) }},
	// A JWT file that was named but could not be read arrives as "" and
	// still selects JWT, so login names the unreadable file.
	{methodJWT, func(e map[string]string) bool { _, named := e[envJWTPath]; return named }},
}

func set(env map[string]string, name string) bool { return strings.TrimSpace(env[name]) != "" }

// chooseMethod returns the first complete method and the other complete
// ones, which are ignored (the caller warns about them).
func chooseMethod(env map[string]string) (authMethod, []authMethod, error) {
	var chosen authMethod
	var ignored []authMethod
	for _, d := range detection {
		if !d.complete(env) {
			continue
		}
		if chosen == "" {
			chosen = d.method
		} else {
			ignored = append(ignored, d.method)
		}
	}
	if chosen == "" {
		return "", nil, sdk.Errorf(sdk.CodeAuthFailed, "no OpenBao auth method is configured: set %s, or %s (and %s), or %s, or %s",
			envToken, envRoleID, envSecretID, envK8sRole, envJWTPath)
	}
	return chosen, ignored, nil
}

// mountOf is an auth mount path from env, or its default.
func mountOf(env map[string]string, name, def string) string {
	if m := strings.Trim(strings.TrimSpace(env[name]), "/"); m != "" {
		return m
	}
	return def
}
