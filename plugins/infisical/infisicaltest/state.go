package infisicaltest

import (
	"sort"
	"strings"
	"time"
)

// AuthMethod names a machine-identity login method. The two GCP flows share
// one endpoint; the emulator tells them apart by the JWT presented.
type AuthMethod string

const (
	AuthUniversal  AuthMethod = "universal-auth"
	AuthKubernetes AuthMethod = "kubernetes-auth"
	AuthAWSIAM     AuthMethod = "aws-iam-auth"
	AuthGCPIDToken AuthMethod = "gcp-id-token-auth"
	AuthGCPIAM     AuthMethod = "gcp-iam-auth"
	AuthLDAP       AuthMethod = "ldap-auth"
)

// NoExpiry as an Identity TTL or MaxTTL means "0" on the wire: the token
// never expires, or has no max TTL.
const NoExpiry = time.Duration(-1)

// defaultTokenTTL is what a fresh identity gets on the real server (30 days)
// for both TTL and max TTL.
const defaultTokenTTL = 2592000 * time.Second

// periodicMaxTTL is the accessTokenMaxTTL the server sends for periodic tokens.
const periodicMaxTTL = 1000000000

// Identity is a machine identity with the login methods it has configured.
// A nil method pointer means the method is not configured: logging in with
// it answers 404, as the real server does.
type Identity struct {
	ID    string
	OrgID string // "" is the default organisation, which every project without OrgID belongs to

	Universal  *UniversalAuth
	Kubernetes *KubernetesAuth
	AWS        *AWSAuth
	GCP        *GCPAuth
	LDAP       *LDAPAuth

	// TTL and MaxTTL of issued access tokens; zero means the server default
	// (30 days), NoExpiry means 0 on the wire.
	TTL    time.Duration
	MaxTTL time.Duration
	// Period makes tokens periodic: expiresIn is the period, renewals have no
	// max TTL, and accessTokenMaxTTL is sent as 1000000000.
	Period time.Duration
	// NumUsesLimit caps authenticated requests per token (0: unlimited).
	NumUsesLimit int
	// LockoutAfter consecutive failed logins lock the method for LockoutFor
	// (default 300 s). Zero disables lockout.
	LockoutAfter int
	LockoutFor   time.Duration
}

// UniversalAuth is the client ID and secret pair of Universal Auth.
type UniversalAuth struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// KubernetesAuth accepts a login whose service-account JWT equals JWT (the
// emulator stands in for the Kubernetes TokenReview).
type KubernetesAuth struct {
	JWT string `json:"jwt"`
}

// AWSAuth accepts a login carrying a SigV4-signed STS GetCallerIdentity
// request of the right shape. When AccessKeyID is set the signing key ID must
// match; when SecretAccessKey is also set the signature itself is verified.
// When Region is set the request must target that region's STS endpoint. AWS
// is never called.
type AWSAuth struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Region          string `json:"region"`
}

// GCPAuth accepts a GCP ID-token login whose JWT equals IDToken (also what
// the emulated metadata server hands out), and a GCP IAM login whose JWT
// equals IAMJWT or, when ServiceAccountEmail is set, whose claims carry
// sub = ServiceAccountEmail and aud = the identity ID. With
// ServiceAccountPublicKeyPEM (a PEM public key or certificate of the
// service account) that JWT must also be RS256-signed by the matching
// private key and, if it has exp, not be expired by the emulator clock.
type GCPAuth struct {
	IDToken                    string `json:"id_token"`
	IAMJWT                     string `json:"iam_jwt"`
	ServiceAccountEmail        string `json:"service_account_email"`
	ServiceAccountPublicKeyPEM string `json:"service_account_public_key_pem"`
}

// LDAPAuth is the directory user an LDAP login must present.
type LDAPAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Project is an Infisical project. Environments lists environment slugs;
// environments and projects are also created on first use by the secret and
// dynamic-secret setters.
type Project struct {
	ID           string
	Slug         string // defaults to ID
	Name         string // defaults to Slug
	OrgID        string
	Environments []string
}

// Secret is one secret at a folder. Keys are stored as given, so tests can
// plant keys a broker must reject (lower case, dashes, empty, duplicates).
type Secret struct {
	Key                   string
	Value                 string
	Comment               string
	Type                  string // "shared" (default) or "personal"
	SkipMultilineEncoding bool
	Tags                  []Tag
	Metadata              []Metadata
}

// Tag is a secret tag.
type Tag struct{ Slug, Name, Color string }

// Metadata is one key/value metadata entry of a secret.
type Metadata struct{ Key, Value string }

// Import makes a folder's secrets include another folder's, as an
// Infisical secret import does.
type Import struct{ Environment, Path string }

// DynamicSecret is a dynamic secret at a folder and what its leases return.
type DynamicSecret struct {
	Name       string
	Type       string        // provider type; default "sql-database"
	DefaultTTL time.Duration // default 1 h
	MaxTTL     time.Duration // zero: none (null on the wire)
	// Data returns the credential payload of a new lease. It is called with
	// the emulator locked, so it must not call the emulator's methods.
	Data func(Lease) map[string]any
	// Template is the payload when Data is nil: string values have "{seq}"
	// replaced by the lease's sequence number and "{id}" by its ID; other
	// values are sent as they are. With neither, leases carry the
	// provider's field set (the provider table of the wire document) with
	// values derived from the sequence number.
	Template map[string]any
	// Inputs is the provider configuration returned by get-by-name.
	Inputs map[string]any
}

// Lease describes a live lease, for assertions.
type Lease struct {
	ID               string
	Seq              int // 1 for the first lease the emulator mints, and so on
	DynamicSecret    string
	ProjectID        string
	Environment      string
	Path             string
	ExternalEntityID string
	Status           string // "" or "Failed to delete"
	CreatedAt        time.Time
	ExpireAt         time.Time
}

// Access restricts what an identity may do in a project. The zero value is
// full access; an identity without an Access entry for a project has full
// access to it.
type Access struct {
	NotMember        bool    // every project route answers 403 "not a member"
	CannotReadValues bool    // list and retrieve answer 403 (describe without read-value)
	DenySecrets      []Scope // scopes whose secrets cannot be read (lists there and references into them fail)
	// HiddenDynamicSecrets names dynamic secrets the identity lacks
	// read-root-credential on; they are filtered out of the list. "*" hides all.
	HiddenDynamicSecrets []string
	CannotEditDynamic    bool // no edit-root-credential: get-by-name answers 403
	CannotLease          bool // no lease permission: lease routes answer 403
}

// Scope selects secrets by environment slug and folder path; an empty
// member matches anything, Path may be a path.Match glob.
type Scope struct{ Environment, Path string }

// ETagMode controls how list-secrets treats ETags.
type ETagMode int

const (
	ETagNormal            ETagMode = iota // ETag header; 304 when If-None-Match matches
	ETagOff                               // no ETag header (servers without support)
	ETagIgnoreIfNoneMatch                 // ETag header, but always 200
	ETagAlways304                         // 304 whenever If-None-Match is present
	ETagChurn                             // a fresh ETag on every answer, content unchanged
)

// internal state

type identity struct {
	Identity
	failures    map[AuthMethod]int
	lockedUntil map[AuthMethod]time.Time
}

type secret struct {
	id        string
	s         Secret
	version   int
	tagIDs    []string
	createdAt time.Time
	updatedAt time.Time
}

type folder struct {
	id        string
	path      string
	secrets   []*secret
	imports   []Import
	dynamic   []*dynamicSecret
	createdAt time.Time
}

type environment struct {
	id      string
	slug    string
	name    string
	folders map[string]*folder
}

type project struct {
	id, slug, name, orgID string
	envs                  []*environment
	createdAt, updatedAt  time.Time
}

type dynamicSecret struct {
	id        string
	ds        DynamicSecret
	folder    *folder
	createdAt time.Time
	live      int // leases not yet deleted, for the lease limit
}

type lease struct {
	Lease
	ds     *dynamicSecret
	config map[string]any
	upd    time.Time
	// statusDetails is set with Status "Failed to delete".
	statusDetails string
}

func (p *project) env(slug string) *environment {
	for _, e := range p.envs {
		if e.slug == slug {
			return e
		}
	}
	return nil
}

// folderAt returns the folder at a normalised path, or nil.
func (en *environment) folderAt(path string) *folder { return en.folders[path] }

// sortedFolderPaths lists an environment's folder paths in a stable order.
func (en *environment) sortedFolderPaths() []string {
	paths := make([]string, 0, len(en.folders))
	for p := range en.folders {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// isUnder reports whether p is base or inside it.
func isUnder(p, base string) bool {
	if base == "/" || p == base {
		return true
	}
	return strings.HasPrefix(p, base+"/")
}
