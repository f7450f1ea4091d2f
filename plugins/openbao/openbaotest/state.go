package openbaotest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// Token is a token the emulator accepts.
type Token struct {
	ID        string
	Namespace string   // where it lives ("" root)
	Policies  []string // path prefixes it may use; "*" is everything
	TTL       time.Duration
	MaxTTL    time.Duration // 0: no cap
	Renewable bool
}

type token struct {
	Token
	issued  time.Time
	expires time.Time     // zero: never
	path    string        // creation path, e.g. auth/approle/login
	granted time.Duration // TTL granted by the last login or renewal
	revoked bool
}

func (t *token) alive(now time.Time) bool {
	return !t.revoked && (t.expires.IsZero() || now.Before(t.expires))
}

func (t *token) allows(path string) bool {
	for _, p := range t.Policies {
		if p == "*" || strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// AppRole is a role of the approle auth method.
type AppRole struct {
	RoleID    string
	SecretID  string // "" when bind_secret_id is false
	Namespace string
	Policies  []string
	TTL       time.Duration
	MaxTTL    time.Duration
}

// LoginRole is a role of the kubernetes or jwt auth method: JWT is the
// only token it accepts.
type LoginRole struct {
	Name      string
	JWT       string
	Namespace string
	Policies  []string
	TTL       time.Duration
	MaxTTL    time.Duration
}

// DBRole is a role of a database secrets engine mount.
type DBRole struct {
	Name   string
	TTL    time.Duration // default_ttl
	MaxTTL time.Duration // 0: 32 days
}

type version struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time
	destroyed bool
}

type secret struct {
	versions []*version
}

type lease struct {
	id        string
	ns        string
	path      string
	issued    time.Time
	expires   time.Time
	maxExpiry time.Time
	lastRenew time.Time
}

func key(parts ...string) string { return strings.Join(parts, "\x00") }

func cleanNS(ns string) string { return strings.Trim(ns, "/") }

// CreateNamespace makes a namespace (and its parents), e.g. "team-a/db".
func (e *Emulator) CreateNamespace(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	path = cleanNS(path)
	parts := strings.Split(path, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if _, ok := e.namespaces[p]; !ok {
			e.seq++
			e.namespaces[p] = fmt.Sprintf("NS%04d", e.seq)
		}
	}
}

// MountKV mounts a KV engine of version 1 or 2 at mount in namespace ns.
func (e *Emulator) MountKV(ns, mount string, kvVersion int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kvMounts[key(cleanNS(ns), strings.Trim(mount, "/"))] = kvVersion
}

func (e *Emulator) kvVersion(ns, mount string) (int, bool) {
	if v, ok := e.kvMounts[key(ns, mount)]; ok {
		return v, true
	}
	if mount == "secret" {
		return 2, true
	}
	return 0, false
}

// PutSecret writes a new version of the secret at mount/path in ns (on a
// v1 mount, it replaces the value).
func (e *Emulator) PutSecret(ns, mount, path string, data map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, mount, path = cleanNS(ns), strings.Trim(mount, "/"), strings.Trim(path, "/")
	k := key(ns, mount, path)
	s := e.secrets[k]
	if s == nil {
		s = &secret{}
		e.secrets[k] = s
	}
	cp := map[string]any{}
	for n, v := range data {
		cp[n] = v
	}
	v := &version{data: cp, created: e.clock.Now()}
	if kv, _ := e.kvVersion(ns, mount); kv == 1 {
		s.versions = []*version{v}
		return
	}
	s.versions = append(s.versions, v)
}

// DeleteSecret soft-deletes the latest version (KV v2) or removes the
// secret (v1).
func (e *Emulator) DeleteSecret(ns, mount, path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, mount, path = cleanNS(ns), strings.Trim(mount, "/"), strings.Trim(path, "/")
	k := key(ns, mount, path)
	s := e.secrets[k]
	if s == nil || len(s.versions) == 0 {
		return
	}
	if kv, _ := e.kvVersion(ns, mount); kv == 1 {
		delete(e.secrets, k)
		return
	}
	s.versions[len(s.versions)-1].deleted = e.clock.Now()
}

// AddToken registers a token. TTL 0 never expires.
func (e *Emulator) AddToken(t Token) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Namespace = cleanNS(t.Namespace)
	e.issue(t, "auth/token/create")
}

// issue stores a token; the caller holds e.mu.
func (e *Emulator) issue(t Token, path string) *token {
	now := e.clock.Now()
	tk := &token{Token: t, issued: now, path: path, granted: t.TTL}
	if t.TTL > 0 {
		tk.expires = now.Add(t.TTL)
	}
	e.tokens[t.ID] = tk
	return tk
}

// AddAppRole registers an AppRole role.
func (e *Emulator) AddAppRole(r AppRole) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Namespace = cleanNS(r.Namespace)
	e.appRoles[r.RoleID] = r
}

// AddKubernetesRole registers a kubernetes auth role.
func (e *Emulator) AddKubernetesRole(r LoginRole) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Namespace = cleanNS(r.Namespace)
	e.k8sRoles[r.Name] = r
}

// AddJWTRole registers a jwt auth role; the first one is the default_role.
func (e *Emulator) AddJWTRole(r LoginRole) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Namespace = cleanNS(r.Namespace)
	e.jwtRoles[r.Name] = r
	if e.jwtDefault == "" {
		e.jwtDefault = r.Name
	}
}

// AddDatabaseRole registers a role on a database mount in ns.
func (e *Emulator) AddDatabaseRole(ns, mount string, r DBRole) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dbRoles[key(cleanNS(ns), strings.Trim(mount, "/"), r.Name)] = r
}

// ExpireTokens makes every issued token expired, as after a long outage.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	for _, t := range e.tokens {
		t.expires = now.Add(-time.Second)
	}
}

// RevokeToken revokes one token.
func (e *Emulator) RevokeToken(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tokens[id]; t != nil {
		t.revoked = true
	}
}

// FailRevokes makes sys/leases/revoke answer 500 (the database could not
// drop the user) while on; the lease stays.
func (e *Emulator) FailRevokes(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failRevokes = on
}

// ExpireLease ends a lease now, as its TTL running out would.
func (e *Emulator) ExpireLease(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l := e.leases[id]; l != nil {
		delete(e.leases, id)
		e.counts.LeasesExpired++
	}
}

// Leases lists the IDs of live leases.
func (e *Emulator) Leases() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reap()
	var out []string
	for id := range e.leases {
		out = append(out, id)
	}
	return out
}

// LeaseTTL is the seconds left on a live lease, or -1.
func (e *Emulator) LeaseTTL(id string) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reap()
	l := e.leases[id]
	if l == nil {
		return -1
	}
	return int64(l.expires.Sub(e.clock.Now()) / time.Second)
}

// reap drops leases past their expiry; the caller holds e.mu.
func (e *Emulator) reap() {
	now := e.clock.Now()
	for id, l := range e.leases {
		if !now.Before(l.expires) {
			delete(e.leases, id)
			e.counts.LeasesExpired++
		}
	}
}

// CACertPEM is the PEM of the certificate a WithTLS emulator serves.
func (e *Emulator) CACertPEM() []byte {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.caPEM
}

// CertPool trusts the WithTLS certificate.
func (e *Emulator) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(e.CACertPEM())
	return p
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
