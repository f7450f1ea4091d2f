package openbaotest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const maxLeaseTTL = 32 * 24 * time.Hour // the system maximum (wire doc §4.3)

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// handle resolves the namespace and routes the request.
func (e *Emulator) handle(q *request) (Route, *response) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reap()
	rest, ok := strings.CutPrefix(q.r.URL.Path, "/v1/")
	if !ok {
		return RouteUnknown, errorResponse(http.StatusNotFound)
	}
	ns := cleanNS(q.r.Header.Get("X-Vault-Namespace"))
	if ns == "root" {
		ns = ""
	}
	if _, ok := e.namespaces[ns]; !ok {
		return RouteUnknown, errorResponse(http.StatusNotFound, "namespace not found")
	}
	// Namespace segments may lead the path too (wire doc §1.5).
	for {
		seg, after, _ := strings.Cut(rest, "/")
		cand := strings.TrimPrefix(ns+"/"+seg, "/")
		if _, ok := e.namespaces[cand]; !ok || seg == "" || after == "" {
			break
		}
		ns, rest = cand, after
	}
	return e.route(q, ns, strings.TrimSuffix(rest, "/"))
}

func (e *Emulator) route(q *request, ns, rest string) (Route, *response) {
	method := q.r.Method
	write := method == http.MethodPost || method == http.MethodPut
	if rest == "sys/health" {
		return RouteHealth, &response{status: 200, body: map[string]any{
			"initialized": true, "sealed": false, "standby": false,
			"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
			"server_time_utc": e.clock.Now().Unix(), "version": "2.3.1", "cluster_name": "openbaotest", "cluster_id": "00000000-0000-0000-0000-000000000000",
		}}
	}
	if m, ok := strings.CutPrefix(rest, "auth/"); ok {
		if mount, ok := strings.CutSuffix(m, "/login"); ok && mount != "token" {
			if !write {
				return RouteLogin, errorResponse(http.StatusMethodNotAllowed, "unsupported operation")
			}
			return RouteLogin, e.login(q, ns, mount)
		}
	}
	tok := e.tokens[q.token()]
	if tok == nil || !tok.alive(e.clock.Now()) || !within(ns, tok.Namespace) {
		return routeOf(rest), denied()
	}
	switch rest {
	case "auth/token/lookup-self":
		return RouteLookupSelf, e.lookupSelf(tok)
	case "auth/token/renew-self":
		if !write {
			return RouteRenewSelf, errorResponse(http.StatusMethodNotAllowed, "unsupported operation")
		}
		return RouteRenewSelf, e.renewSelf(q, tok)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(ns+"/"+rest, "/"), tok.Namespace)
	rel = strings.TrimPrefix(rel, "/")
	if op, ok := strings.CutPrefix(rest, "sys/leases/"); ok {
		name, id, _ := strings.Cut(op, "/")
		route := Route("sys/leases/" + name)
		if !tok.allows(strings.TrimSuffix(rel, "/"+id)) {
			return route, denied()
		}
		if !write {
			return route, errorResponse(http.StatusMethodNotAllowed, "unsupported operation")
		}
		var body struct {
			LeaseID   string `json:"lease_id"`
			Increment any    `json:"increment"`
		}
		if !q.decode(&body) {
			return route, errorResponse(http.StatusBadRequest, "failed to parse JSON input")
		}
		if body.LeaseID == "" {
			body.LeaseID = id
		}
		if body.LeaseID == "" {
			return route, errorResponse(http.StatusBadRequest, "lease_id must be specified")
		}
		switch name {
		case "renew":
			return route, e.renewLease(ns, body.LeaseID, body.Increment)
		case "revoke":
			return route, e.revokeLease(ns, body.LeaseID)
		case "lookup":
			return route, e.lookupLease(ns, body.LeaseID)
		}
		return RouteUnknown, noHandler(rest)
	}
	if !tok.allows(rel) {
		return routeOf(rest), denied()
	}
	if p, ok := strings.CutPrefix(rest, "sys/internal/ui/mounts/"); ok {
		return RouteMounts, e.mountInfo(ns, p)
	}
	mount, sub, _ := strings.Cut(rest, "/")
	if role, ok := strings.CutPrefix(sub, "creds/"); ok {
		if r, ok := e.dbRoles[key(ns, mount, role)]; ok {
			if method != http.MethodGet {
				return RouteCreds, errorResponse(http.StatusMethodNotAllowed, "unsupported operation")
			}
			return RouteCreds, e.mint(ns, mount+"/creds/"+role, r)
		}
		if e.isDBMount(ns, mount) {
			return RouteCreds, errorResponse(http.StatusBadRequest, "unknown role: "+role)
		}
	}
	kv, ok := e.kvVersion(ns, mount)
	if !ok {
		return RouteUnknown, noHandler(rest)
	}
	if kv == 1 {
		if q.isList() {
			return RouteKVList, e.list(ns, mount, sub)
		}
		if method != http.MethodGet {
			return RouteKVRead, errorResponse(http.StatusMethodNotAllowed, "unsupported operation")
		}
		return RouteKVRead, e.readV1(ns, mount, sub)
	}
	if p, ok := strings.CutPrefix(sub, "data/"); ok && method == http.MethodGet {
		return RouteKVRead, e.readV2(q, ns, mount, p)
	}
	if p, ok := strings.CutPrefix(sub+"/", "metadata/"); ok && method == http.MethodGet {
		p = strings.TrimSuffix(p, "/")
		if q.isList() {
			return RouteKVList, e.list(ns, mount, p)
		}
		return RouteKVMetadata, e.metadata(ns, mount, p)
	}
	if q.isList() && strings.HasPrefix(sub+"/", "metadata/") {
		return RouteKVList, e.list(ns, mount, strings.TrimPrefix(strings.TrimPrefix(sub, "metadata"), "/"))
	}
	// A v1-style path on a v2 mount (wire doc §2.4).
	return RouteKVRead, &response{status: http.StatusNotFound, body: e.envelope(nil, "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.")}
}

// routeOf guesses the route of a refused request, for hit counts.
func routeOf(rest string) Route {
	switch {
	case strings.HasPrefix(rest, "auth/token/lookup-self"):
		return RouteLookupSelf
	case strings.HasPrefix(rest, "auth/token/renew-self"):
		return RouteRenewSelf
	case strings.HasPrefix(rest, "sys/leases/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(rest, "sys/leases/"), "/")
		return Route("sys/leases/" + name)
	case strings.Contains(rest, "/creds/"):
		return RouteCreds
	case strings.Contains(rest, "/metadata/"):
		return RouteKVList
	}
	return RouteKVRead
}

// within reports whether ns is the token's namespace or below it.
func within(ns, tokenNS string) bool {
	return tokenNS == "" || ns == tokenNS || strings.HasPrefix(ns, tokenNS+"/")
}

func noHandler(rest string) *response {
	return errorResponse(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", rest))
}

func (e *Emulator) isDBMount(ns, mount string) bool {
	if mount == "database" {
		return true
	}
	prefix := key(ns, mount) + "\x00"
	for k := range e.dbRoles {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func (e *Emulator) envelope(data any, warnings ...string) envelope {
	if len(warnings) == 0 {
		warnings = nil
	}
	return envelope{RequestID: e.nextID(), Data: data, Warnings: warnings}
}

// authBlock is the auth member of a login or renewal (wire doc §3.2).
func (e *Emulator) authBlock(t *token, method string, meta map[string]string) map[string]any {
	ttl := int64(t.granted / time.Second)
	return map[string]any{
		"client_token": t.ID, "accessor": "acc-" + t.ID[max(0, len(t.ID)-6):], "policies": append([]string{"default"}, t.Policies...),
		"token_policies": append([]string{"default"}, t.Policies...), "metadata": meta, "lease_duration": ttl,
		"renewable": t.Renewable, "entity_id": "", "token_type": "service", "orphan": true, "num_uses": 0, "mfa_requirement": nil,
	}
}

// login serves auth/<mount>/login; the method is the mount's name prefix
// (approle…, kubernetes…, jwt… or oidc…).
func (e *Emulator) login(q *request, ns, mount string) *response {
	var body map[string]any
	if !q.decode(&body) {
		return errorResponse(http.StatusBadRequest, "failed to parse JSON input")
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	var role LoginRole
	var method string
	switch {
	case strings.HasPrefix(mount, "approle"):
		method = "approle"
		if str("role_id") == "" {
			return errorResponse(http.StatusBadRequest, "missing role_id")
		}
		r, ok := e.appRoles[str("role_id")]
		if !ok || r.Namespace != ns {
			return errorResponse(http.StatusBadRequest, "invalid role or secret ID")
		}
		if r.SecretID != "" && str("secret_id") == "" {
			return errorResponse(http.StatusBadRequest, "missing secret_id")
		}
		if r.SecretID != str("secret_id") {
			return errorResponse(http.StatusBadRequest, "invalid role or secret ID")
		}
		role = LoginRole{Name: r.RoleID, Policies: r.Policies, TTL: r.TTL, MaxTTL: r.MaxTTL}
	case strings.HasPrefix(mount, "kubernetes"):
		method = "kubernetes"
		if str("role") == "" {
			return errorResponse(http.StatusBadRequest, "missing role")
		}
		if str("jwt") == "" {
			return errorResponse(http.StatusBadRequest, "missing jwt")
		}
		r, ok := e.k8sRoles[str("role")]
		if !ok || r.Namespace != ns {
			return errorResponse(http.StatusBadRequest, fmt.Sprintf("invalid role name %q", str("role")))
		}
		if r.JWT != str("jwt") {
			return denied()
		}
		role = r
	case strings.HasPrefix(mount, "jwt"), strings.HasPrefix(mount, "oidc"):
		method = "jwt"
		if str("jwt") == "" {
			return errorResponse(http.StatusBadRequest, "missing token")
		}
		name := str("role")
		if name == "" {
			name = e.jwtDefault
		}
		r, ok := e.jwtRoles[name]
		if !ok || r.Namespace != ns {
			return errorResponse(http.StatusBadRequest, fmt.Sprintf("role %q could not be found", name))
		}
		if r.JWT != str("jwt") {
			return errorResponse(http.StatusBadRequest, "error validating token: invalid signature")
		}
		role = r
	default:
		return noHandler("auth/" + mount + "/login")
	}
	e.counts.Logins[method]++
	e.seq++
	t := e.issue(Token{ID: fmt.Sprintf("s.%s%06d", strings.ToUpper(method[:2]), e.seq), Namespace: ns, Policies: role.Policies,
		TTL: role.TTL, MaxTTL: role.MaxTTL, Renewable: role.TTL > 0}, "auth/"+mount+"/login")
	env := e.envelope(nil)
	env.Auth = e.authBlock(t, method, map[string]string{"role": role.Name})
	return &response{status: 200, body: env}
}

func (e *Emulator) lookupSelf(t *token) *response {
	e.counts.TokenLookups++
	now := e.clock.Now()
	ttl, expire := int64(0), any(nil)
	if !t.expires.IsZero() {
		ttl, expire = int64(t.expires.Sub(now)/time.Second), ts(t.expires)
	}
	return &response{status: 200, body: e.envelope(map[string]any{
		"id": t.ID, "accessor": "acc", "policies": append([]string{"default"}, t.Policies...), "path": t.path, "meta": nil,
		"display_name": "token", "entity_id": "", "creation_time": t.issued.Unix(), "creation_ttl": int64(t.TTL / time.Second),
		"issue_time": ts(t.issued), "expire_time": expire, "ttl": ttl, "explicit_max_ttl": int64(t.MaxTTL / time.Second),
		"num_uses": 0, "orphan": true, "renewable": t.Renewable, "type": "service",
	})}
}

func (e *Emulator) renewSelf(q *request, t *token) *response {
	var body struct {
		Increment any `json:"increment"`
	}
	if !q.decode(&body) {
		return errorResponse(http.StatusBadRequest, "failed to parse JSON input")
	}
	if !t.Renewable {
		return errorResponse(http.StatusBadRequest, "lease is not renewable")
	}
	inc, ok := duration(body.Increment)
	if !ok {
		return errorResponse(http.StatusBadRequest, "invalid increment")
	}
	if inc == 0 {
		inc = t.TTL
	}
	now := e.clock.Now()
	exp := now.Add(inc)
	if t.MaxTTL > 0 && exp.After(t.issued.Add(t.MaxTTL)) {
		exp = t.issued.Add(t.MaxTTL)
	}
	t.expires, t.granted = exp, exp.Sub(now)
	e.counts.TokenRenewals++
	env := e.envelope(nil)
	env.Auth = e.authBlock(t, "", nil)
	return &response{status: 200, body: env}
}

// duration reads an increment: int seconds or a duration string.
func duration(v any) (time.Duration, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case float64:
		return time.Duration(x) * time.Second, x >= 0
	case string:
		if x == "" {
			return 0, true
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return time.Duration(n) * time.Second, n >= 0
		}
		d, err := time.ParseDuration(x)
		return d, err == nil && d >= 0
	}
	return 0, false
}

func (e *Emulator) mountInfo(ns, p string) *response {
	mount, _, _ := strings.Cut(p, "/")
	kv, ok := e.kvVersion(ns, mount)
	if !ok {
		return errorResponse(http.StatusForbidden, fmt.Sprintf("preflight capability check returned 403, please ensure client's policies grant access to path %q", mount+"/"))
	}
	return &response{status: 200, body: e.envelope(map[string]any{
		"type": "kv", "path": mount + "/", "options": map[string]string{"version": strconv.Itoa(kv)},
		"accessor": "kv_" + mount, "uuid": "00000000-0000-0000-0000-000000000001", "description": "", "local": false, "seal_wrap": false,
		"config": map[string]any{"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false},
	})}
}

func (e *Emulator) readV1(ns, mount, p string) *response {
	s := e.secrets[key(ns, mount, p)]
	if s == nil || len(s.versions) == 0 {
		return errorResponse(http.StatusNotFound)
	}
	e.counts.KVReads++
	env := e.envelope(s.versions[0].data)
	env.LeaseDuration = 2764800 // advisory, wire doc §2.4
	return &response{status: 200, body: env}
}

func versionMeta(n int, v *version) map[string]any {
	del := ""
	if !v.deleted.IsZero() {
		del = ts(v.deleted)
	}
	return map[string]any{"created_time": ts(v.created), "custom_metadata": nil, "deletion_time": del, "destroyed": v.destroyed, "version": n}
}

func (e *Emulator) readV2(q *request, ns, mount, p string) *response {
	s := e.secrets[key(ns, mount, p)]
	if s == nil || len(s.versions) == 0 {
		return errorResponse(http.StatusNotFound)
	}
	n := len(s.versions)
	if want := q.r.URL.Query().Get("version"); want != "" && want != "0" {
		v, err := strconv.Atoi(want)
		if err != nil || v < 1 || v > len(s.versions) {
			return errorResponse(http.StatusNotFound)
		}
		n = v
	}
	v := s.versions[n-1]
	if !v.deleted.IsZero() || v.destroyed {
		// Deleted or destroyed: 404 with a full envelope (wire doc §2.2).
		return &response{status: http.StatusNotFound, body: e.envelope(map[string]any{"data": nil, "metadata": versionMeta(n, v)})}
	}
	e.counts.KVReads++
	return &response{status: 200, body: e.envelope(map[string]any{"data": v.data, "metadata": versionMeta(n, v)})}
}

func (e *Emulator) metadata(ns, mount, p string) *response {
	s := e.secrets[key(ns, mount, p)]
	if s == nil || len(s.versions) == 0 {
		return errorResponse(http.StatusNotFound)
	}
	versions := map[string]any{}
	for i, v := range s.versions {
		m := versionMeta(i+1, v)
		delete(m, "version")
		delete(m, "custom_metadata")
		versions[strconv.Itoa(i+1)] = m
	}
	first, last := s.versions[0], s.versions[len(s.versions)-1]
	return &response{status: 200, body: e.envelope(map[string]any{
		"cas_required": false, "created_time": ts(first.created), "updated_time": ts(last.created), "current_version": len(s.versions),
		"oldest_version": 0, "max_versions": 0, "delete_version_after": "0s", "custom_metadata": nil, "versions": versions,
	})}
}

// list names the direct children of p: secrets, and folders with a "/".
func (e *Emulator) list(ns, mount, p string) *response {
	prefix := key(ns, mount, "")
	if p != "" {
		prefix += p + "/"
	}
	seen := map[string]bool{}
	for k := range e.secrets {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" {
			continue
		}
		if head, _, folder := strings.Cut(rest, "/"); folder {
			seen[head+"/"] = true
		} else {
			seen[rest] = true
		}
	}
	if len(seen) == 0 {
		return errorResponse(http.StatusNotFound)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.counts.KVLists++
	return &response{status: 200, body: e.envelope(map[string]any{"keys": keys})}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// mint leases database credentials (wire doc §4.1).
func (e *Emulator) mint(ns, path string, r DBRole) *response {
	e.seq++
	n := e.seq
	var rnd [24]byte
	for i := range rnd {
		rnd[i] = base62[(n*7+i*13)%62]
	}
	id := path + "/" + string(rnd[:])
	if ns != "" {
		id += "." + e.namespaces[ns]
	}
	ttl, maxTTL := r.TTL, r.MaxTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	if maxTTL <= 0 {
		maxTTL = maxLeaseTTL
	}
	ttl = min(ttl, maxTTL)
	now := e.clock.Now()
	e.leases[id] = &lease{id: id, ns: ns, path: path, issued: now, expires: now.Add(ttl), maxExpiry: now.Add(maxTTL)}
	e.counts.LeasesMinted++
	env := e.envelope(map[string]any{"username": fmt.Sprintf("v-token-%s-%06d", r.Name, n), "password": fmt.Sprintf("A1a-%020d", n)})
	env.LeaseID, env.Renewable, env.LeaseDuration = id, true, int64(ttl/time.Second)
	return &response{status: 200, body: env}
}

func (e *Emulator) renewLease(ns, id string, increment any) *response {
	l := e.leases[id]
	if l == nil || l.ns != ns {
		return errorResponse(http.StatusBadRequest, "lease not found")
	}
	inc, ok := duration(increment)
	if !ok {
		return errorResponse(http.StatusBadRequest, "invalid increment")
	}
	if inc == 0 {
		inc = l.expires.Sub(l.issued)
		if !l.lastRenew.IsZero() {
			inc = l.expires.Sub(l.lastRenew)
		}
	}
	now := e.clock.Now()
	exp := now.Add(inc)
	var warnings []string
	if exp.After(l.maxExpiry) {
		exp = l.maxExpiry
		warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", inc.String(), exp.Sub(now).String()))
	}
	if !exp.After(now) {
		return errorResponse(http.StatusBadRequest, "past the max TTL, cannot renew")
	}
	l.expires, l.lastRenew = exp, now
	e.counts.LeasesRenewed++
	env := e.envelope(nil, warnings...)
	env.LeaseID, env.Renewable, env.LeaseDuration = id, true, int64(exp.Sub(now)/time.Second)
	return &response{status: 200, body: env}
}

func (e *Emulator) revokeLease(ns, id string) *response {
	l := e.leases[id]
	if l == nil || l.ns != ns {
		return &response{status: http.StatusNoContent} // idempotent (wire doc §4.4)
	}
	if e.failRevokes {
		return errorResponse(http.StatusInternalServerError, "failed to revoke entry: resp: (*logical.Response)(nil) err: database unreachable")
	}
	delete(e.leases, id)
	e.counts.LeasesRevoked++
	return &response{status: http.StatusNoContent}
}

func (e *Emulator) lookupLease(ns, id string) *response {
	l := e.leases[id]
	if l == nil || l.ns != ns {
		return errorResponse(http.StatusBadRequest, "invalid lease")
	}
	var last any
	if !l.lastRenew.IsZero() {
		last = ts(l.lastRenew)
	}
	return &response{status: 200, body: e.envelope(map[string]any{
		"id": l.id, "issue_time": ts(l.issued), "expire_time": ts(l.expires), "last_renewal": last,
		"renewable": true, "ttl": int64(l.expires.Sub(e.clock.Now()) / time.Second),
	})}
}
