package main

import (
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
)

// Environment variables the plugin reads (all declared in the manifest).
const (
	envURL             = "INFISICAL_URL"
	envOrgSlug         = "INFISICAL_AUTH_ORGANIZATION_SLUG"
	envUniversalID     = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"
	envUniversalSecret = "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"
	envK8sIdentity     = "INFISICAL_KUBERNETES_IDENTITY_ID"
	envK8sToken        = "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH"
	envAWSIdentity     = "INFISICAL_AWS_IAM_AUTH_IDENTITY_ID"
	envAWSKeyID        = "AWS_ACCESS_KEY_ID"
	envAWSSecret       = "AWS_SECRET_ACCESS_KEY"
	envAWSSession      = "AWS_SESSION_TOKEN"
	envAWSRegion       = "AWS_REGION"
	envAWSDefRegion    = "AWS_DEFAULT_REGION"
	envGCPIdentity     = "INFISICAL_GCP_AUTH_IDENTITY_ID"
	envGCPKeyFile      = "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH"
	envGCPMetadata     = "INFISICAL_GCP_METADATA_URL"
	envLDAPIdentity    = "INFISICAL_LDAP_AUTH_IDENTITY_ID"
	envLDAPUser        = "INFISICAL_LDAP_AUTH_USERNAME"
	envLDAPPassword    = "INFISICAL_LDAP_AUTH_PASSWORD"
)

// defaultK8sTokenPath is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

var envVars = []sdk.EnvVar{
	{Name: envURL, Required: true, Description: "Base URL of the Infisical instance, e.g. https://app.infisical.com (its origin is granted to the plugin)."},
	{Name: envOrgSlug, Description: "Organization slug sent with every login (optional)."},
	{Name: envUniversalID, Description: "Universal Auth client ID."},
	{Name: envUniversalSecret, Description: "Universal Auth client secret."},
	{Name: envK8sIdentity, Description: "Kubernetes Auth identity ID."},
	{Name: envK8sToken, File: true, Default: defaultK8sTokenPath, Description: "Path of the service-account token (the host reads it)."},
	{Name: envAWSIdentity, Description: "AWS IAM Auth identity ID; with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY the plugin signs the STS request itself."},
	{Name: envAWSKeyID, Description: "AWS access key ID (AWS IAM Auth)."},
	{Name: envAWSSecret, Description: "AWS secret access key (AWS IAM Auth)."},
	{Name: envAWSSession, Description: "AWS session token, for temporary credentials (AWS IAM Auth)."},
	{Name: envAWSRegion, Description: "AWS region of the signed STS request (default us-east-1)."},
	{Name: envAWSDefRegion, Description: "Fallback for AWS_REGION."},
	{Name: envGCPIdentity, Description: "GCP Auth identity ID: GCP IAM with a key file, else GCP ID token from the metadata server."},
	{Name: envGCPKeyFile, File: true, Description: "Path of the service-account JSON key (GCP IAM Auth; the host reads it)."},
	{Name: envGCPMetadata, Default: defaultGCPMetadataURL, Description: "GCP metadata server base URL (GCP ID-token Auth); override for tests."},
	{Name: envLDAPIdentity, Description: "LDAP Auth identity ID."},
	{Name: envLDAPUser, Description: "LDAP Auth username."},
	{Name: envLDAPPassword, Description: "LDAP Auth password."},
}

// authMethod is one machine-identity login method.
type authMethod string

const (
	methodUniversal  authMethod = "universal-auth"
	methodKubernetes authMethod = "kubernetes-auth"
	methodAWSIAM     authMethod = "aws-iam-auth"
	methodGCPIAM     authMethod = "gcp-iam-auth"
	methodGCPIDToken authMethod = "gcp-id-token-auth"
	methodLDAP       authMethod = "ldap-auth"
)

// detection lists the groups in the order the first complete one wins.
var detection = []struct {
	method   authMethod
	complete func(env map[string]string) bool
}{
	{methodUniversal, func(e map[string]string) bool { return set(e, envUniversalID) && set(e, envUniversalSecret) }},
	{methodKubernetes, func(e map[string]string) bool { return set(e, envK8sIdentity) }},
	{methodAWSIAM, func(e map[string]string) bool {
		return set(e, envAWSIdentity) && set(e, envAWSKeyID) && set(e, envAWSSecret)
	}},
	// A key file that was named but could not be read arrives as "" and
	// still selects GCP IAM: falling back to the ID token would hide it.
	{methodGCPIAM, func(e map[string]string) bool { _, named := e[envGCPKeyFile]; return set(e, envGCPIdentity) && named }},
	{methodGCPIDToken, func(e map[string]string) bool { return set(e, envGCPIdentity) }},
	{methodLDAP, func(e map[string]string) bool {
		return set(e, envLDAPIdentity) && set(e, envLDAPUser) && set(e, envLDAPPassword)
	}},
}

func set(env map[string]string, name string) bool { return strings.TrimSpace(env[name]) != "" }

// chooseMethod returns the first complete group and the other complete
// ones, which are ignored (the caller warns about them).
func chooseMethod(env map[string]string) (authMethod, []authMethod, error) {
	var chosen authMethod
	var ignored []authMethod
	gcpIAM := false
	for _, d := range detection {
		if !d.complete(env) {
			continue
		}
		// GCP IAM and ID token share the identity variable: one group.
		if gcpIAM && d.method == methodGCPIDToken {
			continue
		}
		gcpIAM = gcpIAM || d.method == methodGCPIAM
		if chosen == "" {
			chosen = d.method
		} else {
			ignored = append(ignored, d.method)
		}
	}
	if chosen == "" {
		return "", nil, sdk.Errorf(sdk.CodeAuthFailed, "no complete Infisical auth method: set %s and %s, or %s, or %s with AWS credentials, or %s, or %s, %s and %s",
			envUniversalID, envUniversalSecret, envK8sIdentity, envAWSIdentity, envGCPIdentity, envLDAPIdentity, envLDAPUser, envLDAPPassword)
	}
	return chosen, ignored, nil
}
