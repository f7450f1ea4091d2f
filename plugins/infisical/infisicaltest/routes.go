package infisicaltest

import "strings"

// Route names an emulated endpoint as "METHOD /path/{param}". Routes are
// the keys of fault injection, hit counts and the request log.
type Route string

// The routes the emulator serves (under /api, as on the real server).
const (
	RouteUniversalAuthLogin  Route = "POST /api/v1/auth/universal-auth/login"
	RouteKubernetesAuthLogin Route = "POST /api/v1/auth/kubernetes-auth/login"
	RouteAWSAuthLogin        Route = "POST /api/v1/auth/aws-auth/login"
	RouteGCPAuthLogin        Route = "POST /api/v1/auth/gcp-auth/login"
	RouteLDAPAuthLogin       Route = "POST /api/v1/auth/ldap-auth/login"
	RouteTokenRenew          Route = "POST /api/v1/auth/token/renew"
	RouteTokenRevoke         Route = "POST /api/v1/auth/token/revoke"
	RouteListSecrets         Route = "GET /api/v3/secrets/raw"
	RouteGetSecret           Route = "GET /api/v3/secrets/raw/{secretName}"
	RouteListSecretsV4       Route = "GET /api/v4/secrets"
	RouteGetWorkspace        Route = "GET /api/v1/workspace/{projectId}"
	RouteGetProject          Route = "GET /api/v1/projects/{projectId}"
	RouteGetWorkspaceBySlug  Route = "GET /api/v2/workspace/{slug}"
	RouteListDynamicSecrets  Route = "GET /api/v1/dynamic-secrets"
	RouteCreateLease         Route = "POST /api/v1/dynamic-secrets/leases"
	RouteGetLease            Route = "GET /api/v1/dynamic-secrets/leases/{leaseId}"
	RouteRenewLease          Route = "POST /api/v1/dynamic-secrets/leases/{leaseId}/renew"
	RouteRevokeLease         Route = "DELETE /api/v1/dynamic-secrets/leases/{leaseId}"
	RouteListLeases          Route = "GET /api/v1/dynamic-secrets/{name}/leases"
	RouteGetDynamicSecret    Route = "GET /api/v1/dynamic-secrets/{name}"
	// RouteGCPMetadata is the GCP metadata server's identity endpoint, for
	// the SDK's GCP ID-token flow when the emulator is its HTTP proxy.
	RouteGCPMetadata Route = "GET /computeMetadata/v1/instance/service-accounts/default/identity"

	// AllRoutes injects a fault on every Infisical route.
	AllRoutes Route = "*"
)

type routeEntry struct {
	route  Route
	method string
	segs   []string
	h      handlerFunc
}

// routes is ordered: on an ambiguous path the earlier entry wins, as with
// the real server's static-before-parametric matching.
var routes []routeEntry

func init() {
	add := func(r Route, h handlerFunc) {
		method, path, _ := strings.Cut(string(r), " ")
		routes = append(routes, routeEntry{route: r, method: method, segs: strings.Split(strings.Trim(path, "/"), "/"), h: h})
	}
	add(RouteUniversalAuthLogin, (*Emulator).handleUniversalLogin)
	add(RouteKubernetesAuthLogin, (*Emulator).handleKubernetesLogin)
	add(RouteAWSAuthLogin, (*Emulator).handleAWSLogin)
	add(RouteGCPAuthLogin, (*Emulator).handleGCPLogin)
	add(RouteLDAPAuthLogin, (*Emulator).handleLDAPLogin)
	add(RouteTokenRenew, (*Emulator).handleRenew)
	add(RouteTokenRevoke, (*Emulator).handleRevoke)
	add(RouteListSecrets, (*Emulator).handleListSecrets)
	add(RouteGetSecret, (*Emulator).handleGetSecret)
	add(RouteListSecretsV4, (*Emulator).handleListSecretsV4)
	add(RouteGetWorkspace, (*Emulator).handleGetWorkspace)
	add(RouteGetProject, (*Emulator).handleGetProject)
	add(RouteGetWorkspaceBySlug, (*Emulator).handleGetWorkspaceBySlug)
	add(RouteListDynamicSecrets, (*Emulator).handleListDynamic)
	add(RouteCreateLease, (*Emulator).handleCreateLease)
	add(RouteGetLease, (*Emulator).handleGetLease)
	add(RouteRenewLease, (*Emulator).handleRenewLease)
	add(RouteRevokeLease, (*Emulator).handleRevokeLease)
	add(RouteListLeases, (*Emulator).handleListLeases)
	add(RouteGetDynamicSecret, (*Emulator).handleGetDynamic)
	add(RouteGCPMetadata, (*Emulator).handleGCPMetadata)
}

// match finds the route for a request path; params holds the {name}
// segments. An unknown path gives an empty route.
func match(method, path string) (Route, map[string]string, handlerFunc) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, re := range routes {
		if re.method != method || len(re.segs) != len(segs) {
			continue
		}
		var params map[string]string
		matched := true
		for i, s := range re.segs {
			if strings.HasPrefix(s, "{") {
				if segs[i] == "" {
					matched = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				params[strings.Trim(s, "{}")] = segs[i]
				continue
			}
			if s != segs[i] {
				matched = false
				break
			}
		}
		if matched {
			return re.route, params, re.h
		}
	}
	return "", nil, nil
}
