package infisicaltest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Dynamic-secret TTL bounds the server enforces on requested TTLs.
const (
	minLeaseTTL = time.Minute
	maxLeaseTTL = 10 * 365 * 24 * time.Hour
)

// AddDynamicSecret adds a dynamic secret at a folder, or replaces the one
// with the same name. Project, environment and folder are created if needed.
func (e *Emulator) AddDynamicSecret(projectID, env, folderPath string, ds DynamicSecret) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ds.Type == "" {
		ds.Type = "sql-database"
	}
	if ds.DefaultTTL == 0 {
		ds.DefaultTTL = time.Hour
	}
	f := e.folderLocked(projectID, env, folderPath)
	for _, d := range f.dynamic {
		if d.ds.Name == ds.Name {
			d.ds = ds
			return
		}
	}
	f.dynamic = append(f.dynamic, &dynamicSecret{id: e.nextID(), ds: ds, folder: f, createdAt: e.clock.Now()})
}

// RemoveDynamicSecret deletes a dynamic secret and its leases (uncounted,
// as the server's own cleanup is). It reports whether it existed.
func (e *Emulator) RemoveDynamicSecret(projectID, env, folderPath, name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.folderLocked(projectID, env, folderPath)
	for i, d := range f.dynamic {
		if d.ds.Name == name {
			f.dynamic = append(f.dynamic[:i], f.dynamic[i+1:]...)
			for id, l := range e.leases {
				if l.ds == d {
					e.deleteLeaseLocked(id)
				}
			}
			return true
		}
	}
	return false
}

// SetMaxLeaseLimit sets how many live leases one dynamic secret may have
// (the server's MAX_LEASE_LIMIT, default 10000).
func (e *Emulator) SetMaxLeaseLimit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.maxLeases = n
}

// Leases returns the live leases, oldest first.
func (e *Emulator) Leases() []Lease {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sweepLeasesLocked()
	out := make([]Lease, 0, len(e.leaseOrder))
	for _, id := range e.leaseOrder {
		out = append(out, e.leases[id].Lease)
	}
	return out
}

// ExpireLease makes a lease reach its expireAt now: it is deleted, and
// later renew, get and revoke calls answer 404. It reports whether the
// lease was live.
func (e *Emulator) ExpireLease(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.leases[id]
	if l == nil {
		return false
	}
	l.ExpireAt = e.clock.Now()
	e.sweepLeasesLocked()
	return true
}

// sweepLeasesLocked deletes leases whose expireAt has passed, as the
// server's revocation queue does.
func (e *Emulator) sweepLeasesLocked() {
	now := e.clock.Now()
	var expired []string
	for _, id := range e.leaseOrder {
		if !now.Before(e.leases[id].ExpireAt) {
			expired = append(expired, id)
		}
	}
	for _, id := range expired {
		e.deleteLeaseLocked(id)
		e.counts.LeasesExpired++
	}
}

func (e *Emulator) deleteLeaseLocked(id string) {
	if l := e.leases[id]; l != nil {
		l.ds.live--
	}
	delete(e.leases, id)
	for i, x := range e.leaseOrder {
		if x == id {
			e.leaseOrder = append(e.leaseOrder[:i], e.leaseOrder[i+1:]...)
			break
		}
	}
}

func wireDynamicSecretOf(d *dynamicSecret) wireDynamicSecret {
	w := wireDynamicSecret{
		ID: d.id, Name: d.ds.Name, Version: 1, Type: d.ds.Type, DefaultTTL: formatMS(d.ds.DefaultTTL),
		FolderID: d.folder.id, CreatedAt: timestamp(d.createdAt), UpdatedAt: timestamp(d.createdAt),
		Metadata: []wireMetadata{},
	}
	if d.ds.MaxTTL > 0 {
		w.MaxTTL = strPtr(formatMS(d.ds.MaxTTL))
	}
	return w
}

func wireLeaseOf(l *lease) wireLease {
	w := wireLease{
		ID: l.ID, Version: 1, ExternalEntityID: l.ExternalEntityID, ExpireAt: timestamp(l.ExpireAt),
		DynamicSecretID: l.ds.id, CreatedAt: timestamp(l.CreatedAt), UpdatedAt: timestamp(l.upd), Config: l.config,
	}
	if l.Status != "" {
		w.Status = strPtr(l.Status)
		w.StatusDetails = strPtr(l.statusDetails)
	}
	return w
}

// dynamicScope is the project, environment and folder a dynamic-secret
// call names.
type dynamicScope struct {
	pr   *project
	env  string
	path string
	f    *folder
	acc  Access
}

// resolveDynamicScope authenticates the call and resolves projectSlug,
// environmentSlug and path. pathRequired is true on renew and revoke, where
// the body's path has a minimum length of 1. folderMsg formats the 404 of a
// missing folder (path, env).
func (e *Emulator) resolveDynamicScope(c *call, slug, env, p string, pathRequired bool, folderMsg string) (*dynamicScope, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"projectSlug", slug}, [2]string{"environmentSlug", env}); err != nil {
		return nil, err
	}
	// Absent, path defaults to "/"; sent empty, renew and revoke refuse it.
	if pathRequired && p == "" && c.present("path") {
		return nil, validationError(issueTooShort("path"))
	}
	np, valid := normalizeSecretPath(p)
	if !valid {
		return nil, newAPIError(400, ErrNameBadRequest, MsgInvalidSecretPath)
	}
	pr, err := e.resolveProjectLocked(c, "", slug)
	if err != nil {
		return nil, err
	}
	s := &dynamicScope{pr: pr, env: env, path: np, acc: e.accessLocked(c.tok.rec.identityID, pr.id)}
	if en := pr.env(env); en != nil {
		s.f = en.folderAt(np)
	}
	if s.f == nil {
		msg := strings.ReplaceAll(strings.ReplaceAll(folderMsg, "<path>", np), "<env>", env)
		return nil, newAPIError(404, ErrNameNotFound, msg)
	}
	return s, nil
}

const (
	folderMsgList  = "Folder with path '<path>' in environment '<env>' not found"
	folderMsgLease = "Folder with path '<path>' in environment with slug '<env>' not found"
	folderMsgGet   = "Folder with path '<path>' not found"
)

func permissionDenied(action string) *apiError {
	return newAPIError(403, ErrNamePermissionDenied, "You are not allowed to "+action+" on dynamic-secrets")
}

func (a Access) hidesDynamic(name string) bool {
	for _, h := range a.HiddenDynamicSecrets {
		if h == "*" || h == name {
			return true
		}
	}
	return false
}

func (e *Emulator) handleListDynamic(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	s, err := e.resolveDynamicScope(c, q.Get("projectSlug"), q.Get("environmentSlug"), q.Get("path"), false, folderMsgList)
	if err != nil {
		return nil, err
	}
	out := []wireDynamicSecret{}
	for _, d := range s.f.dynamic {
		if !s.acc.hidesDynamic(d.ds.Name) {
			out = append(out, wireDynamicSecretOf(d))
		}
	}
	e.counts.DynamicLists++
	return ok(map[string]any{"dynamicSecrets": out}), nil
}

func (s *dynamicScope) byName(name string) *dynamicSecret {
	for _, d := range s.f.dynamic {
		if d.ds.Name == name {
			return d
		}
	}
	return nil
}

func (e *Emulator) handleGetDynamic(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	s, err := e.resolveDynamicScope(c, q.Get("projectSlug"), q.Get("environmentSlug"), q.Get("path"), false, folderMsgList)
	if err != nil {
		return nil, err
	}
	name := c.params["name"]
	switch {
	case s.acc.hidesDynamic(name):
		return nil, permissionDenied("read-root-credential")
	case s.acc.CannotEditDynamic:
		return nil, permissionDenied("edit-root-credential")
	}
	d := s.byName(name)
	if d == nil {
		// The missing quote after the name is the real server's.
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret with name '%s in folder '%s' not found", name, s.path))
	}
	w := wireDynamicSecretOf(d)
	w.Inputs = d.ds.Inputs
	if w.Inputs == nil {
		w.Inputs = map[string]any{}
	}
	e.counts.DynamicGets++
	return ok(map[string]any{"dynamicSecret": w}), nil
}

func (e *Emulator) handleListLeases(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	s, err := e.resolveDynamicScope(c, q.Get("projectSlug"), q.Get("environmentSlug"), q.Get("path"), false, folderMsgLease)
	if err != nil {
		return nil, err
	}
	if s.acc.CannotLease {
		return nil, permissionDenied("lease")
	}
	name := c.params["name"] // not lower-cased here, unlike create
	d := s.byName(name)
	if d == nil {
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret with name '%s' in folder with path '%s' not found", name, s.path))
	}
	out := []wireLease{}
	for _, id := range e.leaseOrder {
		if l := e.leases[id]; l.ds == d {
			out = append(out, wireLeaseOf(l))
		}
	}
	e.counts.LeaseLists++
	return ok(map[string]any{"leases": out}), nil
}

// leaseTTL parses a requested TTL; "" means the dynamic secret's default.
func leaseTTL(ttl string, def time.Duration) (time.Duration, *apiError) {
	if ttl == "" {
		return def, nil
	}
	d, valid := parseMS(ttl)
	switch {
	case !valid:
		return 0, validationError(issueCustom("ttl", "TTL must be a valid time string"))
	case d < minLeaseTTL:
		return 0, validationError(issueCustom("ttl", "TTL must be a greater than 1min"))
	case d > maxLeaseTTL:
		return 0, validationError(issueCustom("ttl", "TTL must be less than 10 years"))
	}
	return d, nil
}

func (e *Emulator) handleCreateLease(c *call) (*response, *apiError) {
	var req struct {
		DynamicSecretName string         `json:"dynamicSecretName"`
		ProjectSlug       string         `json:"projectSlug"`
		TTL               string         `json:"ttl"`
		Path              string         `json:"path"`
		EnvironmentSlug   string         `json:"environmentSlug"`
		Config            map[string]any `json:"config"`
	}
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	if err := c.required([2]string{"dynamicSecretName", req.DynamicSecretName}); err != nil {
		return nil, err
	}
	s, err := e.resolveDynamicScope(c, req.ProjectSlug, req.EnvironmentSlug, req.Path, false, folderMsgLease)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(req.DynamicSecretName)
	d := s.byName(name)
	if d == nil {
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret with name '%s' in folder with path '%s' not found", name, s.path))
	}
	if s.acc.CannotLease {
		return nil, permissionDenied("lease")
	}
	ttl, err := leaseTTL(req.TTL, d.ds.DefaultTTL)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	expireAt := now.Add(ttl)
	if d.ds.MaxTTL > 0 && expireAt.After(now.Add(d.ds.MaxTTL)) {
		return nil, newAPIError(400, ErrNameBadRequest, MsgLeaseTTLAboveMax)
	}
	if d.live >= e.maxLeases {
		return nil, newAPIError(400, ErrNameBadRequest, fmt.Sprintf("Max lease limit reached. Limit: %d", e.maxLeases))
	}
	e.leaseSeq++
	l := &lease{Lease: Lease{
		ID: e.nextID(), Seq: e.leaseSeq, DynamicSecret: d.ds.Name, ProjectID: s.pr.id, Environment: s.env, Path: s.path,
		ExternalEntityID: fmt.Sprintf("inf-user-%d", e.leaseSeq), CreatedAt: now, ExpireAt: expireAt,
	}, ds: d, config: req.Config, upd: now}
	var data map[string]any
	switch {
	case d.ds.Data != nil:
		data = d.ds.Data(l.Lease)
	case d.ds.Template != nil:
		data = fromTemplate(d.ds.Template, l.Lease)
	default:
		data = defaultLeaseData(d.ds.Type, l.Lease)
	}
	e.leases[l.ID] = l
	e.leaseOrder = append(e.leaseOrder, l.ID)
	d.live++
	e.counts.LeasesMinted++
	return ok(wireCreateLease{Lease: wireLeaseOf(l), DynamicSecret: wireDynamicSecretOf(d), Data: data}), nil
}

// leaseBody is the body of renew and revoke.
type leaseBody struct {
	LeaseID         string `json:"leaseId"`
	TTL             string `json:"ttl"`
	ProjectSlug     string `json:"projectSlug"`
	Path            string `json:"path"`
	EnvironmentSlug string `json:"environmentSlug"`
	IsForced        bool   `json:"isForced"`
}

// leaseFor resolves the lease a renew or revoke names.
func (e *Emulator) leaseFor(c *call) (*lease, *leaseBody, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, nil, err
	}
	var req leaseBody
	if err := decodeBody(c, &req); err != nil {
		return nil, nil, err
	}
	s, err := e.resolveDynamicScope(c, req.ProjectSlug, req.EnvironmentSlug, req.Path, true, folderMsgLease)
	if err != nil {
		return nil, nil, err
	}
	id := c.params["leaseId"]
	l := e.leases[id]
	if l == nil || l.ds.folder != s.f {
		return nil, nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret lease with ID '%s' not found", id))
	}
	if s.acc.CannotLease {
		return nil, nil, permissionDenied("lease")
	}
	return l, &req, nil
}

func (e *Emulator) handleRenewLease(c *call) (*response, *apiError) {
	l, req, err := e.leaseFor(c)
	if err != nil {
		return nil, err
	}
	ttl, err := leaseTTL(req.TTL, l.ds.ds.DefaultTTL)
	if err != nil {
		return nil, err
	}
	// Renewal extends from the current expiry, not from now.
	next := l.ExpireAt.Add(ttl)
	if l.ds.ds.MaxTTL > 0 && next.After(l.CreatedAt.Add(l.ds.ds.MaxTTL)) {
		return nil, newAPIError(400, ErrNameBadRequest, MsgRenewAboveMax)
	}
	l.ExpireAt = next
	l.upd = e.clock.Now()
	e.counts.LeasesRenewed++
	return ok(map[string]any{"lease": wireLeaseOf(l)}), nil
}

func (e *Emulator) handleRevokeLease(c *call) (*response, *apiError) {
	l, req, err := e.leaseFor(c)
	if err != nil {
		return nil, err
	}
	if c.fault != nil && c.fault.kind == faultRevokeFailed && !req.IsForced {
		// The provider failed: still 200, the lease stays, marked failed.
		details := c.fault.statusDetails
		if len(details) > 255 {
			details = details[:255]
		}
		l.Status, l.statusDetails, l.upd = MsgLeaseRevokeFailed, details, e.clock.Now()
		e.counts.LeaseRevokesFailed++
		return ok(map[string]any{"lease": wireLeaseOf(l)}), nil
	}
	e.deleteLeaseLocked(l.ID)
	e.counts.LeasesRevoked++
	return ok(map[string]any{"lease": wireLeaseOf(l)}), nil
}

func (e *Emulator) handleGetLease(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	s, err := e.resolveDynamicScope(c, q.Get("projectSlug"), q.Get("environmentSlug"), q.Get("path"), false, folderMsgGet)
	if err != nil {
		return nil, err
	}
	id := c.params["leaseId"]
	l := e.leases[id]
	if l == nil {
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret lease with ID '%s' not found", id))
	}
	if l.ds.folder != s.f {
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Dynamic secret with ID '%s' not found", l.ds.id))
	}
	if s.acc.CannotLease {
		return nil, permissionDenied("lease")
	}
	w := wireLeaseOf(l)
	ds := wireDynamicSecretOf(l.ds)
	w.DynamicSecret = &ds
	e.counts.LeaseGets++
	return ok(map[string]any{"lease": w}), nil
}

// fromTemplate fills a lease payload template.
func fromTemplate(tmpl map[string]any, l Lease) map[string]any {
	r := strings.NewReplacer("{seq}", strconv.Itoa(l.Seq), "{id}", l.ID)
	out := make(map[string]any, len(tmpl))
	for k, v := range tmpl {
		if s, ok := v.(string); ok {
			v = r.Replace(s)
		}
		out[k] = v
	}
	return out
}

// defaultLeaseData is a provider-shaped payload (field names verbatim from
// each provider) with values derived from the lease number.
func defaultLeaseData(typ string, l Lease) map[string]any {
	n := l.Seq
	user, pass := fmt.Sprintf("inf-user-%d", n), fmt.Sprintf("inf-pass-%d", n)
	switch typ {
	case "aws-iam":
		return map[string]any{"ACCESS_KEY": fmt.Sprintf("AKIAEMULATOR%08d", n), "SECRET_ACCESS_KEY": pass, "SESSION_TOKEN": fmt.Sprintf("session-%d", n)}
	case "azure-entra-id":
		return map[string]any{"email": user + "@example.com", "password": pass}
	case "couchbase":
		return map[string]any{"username": user, "password": pass}
	case "ldap":
		return map[string]any{"USERNAME": user, "PASSWORD": pass, "DN_ARRAY": []any{"cn=" + user + ",dc=example,dc=com"}}
	case "totp":
		return map[string]any{"TOTP": fmt.Sprintf("%06d", n%1000000), "TIME_REMAINING": 30}
	case "kubernetes":
		return map[string]any{"TOKEN": fmt.Sprintf("k8s-token-%d", n)}
	case "gcp-iam":
		return map[string]any{"SERVICE_ACCOUNT_EMAIL": user + "@project.iam.gserviceaccount.com", "TOKEN": fmt.Sprintf("gcp-token-%d", n)}
	case "github":
		return map[string]any{"TOKEN": fmt.Sprintf("ghs_emulator%d", n), "EXPIRES_AT": timestamp(l.ExpireAt), "PERMISSIONS": map[string]any{"contents": "read"}, "REPOSITORY_SELECTION": "all"}
	case "ssh":
		return map[string]any{"PRIVATE_KEY": fmt.Sprintf("private-key-%d", n), "SIGNED_KEY": fmt.Sprintf("signed-key-%d", n)}
	case "ibm-api-connect":
		return map[string]any{"CLIENT_ID": fmt.Sprintf("client-%d", n), "CLIENT_SECRET": pass}
	}
	return map[string]any{"DB_USERNAME": user, "DB_PASSWORD": pass}
}

// msPattern is the grammar of the `ms` package the server parses TTLs with.
var msPattern = regexp.MustCompile(`(?i)^(-?(?:\d+)?\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$`)

// parseMS parses an `ms` duration string ("30s", "10m", "1h", "7d"; a bare
// number is milliseconds).
func parseMS(s string) (time.Duration, bool) {
	if len(s) == 0 || len(s) > 100 {
		return 0, false
	}
	m := msPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	unit := 1.0 // milliseconds
	switch u := strings.ToLower(m[2]); {
	case u == "" || strings.HasPrefix(u, "ms") || strings.HasPrefix(u, "milli"):
	case u == "s" || strings.HasPrefix(u, "sec"):
		unit = 1e3
	case u == "m" || strings.HasPrefix(u, "min"):
		unit = 60e3
	case strings.HasPrefix(u, "h"):
		unit = 3600e3
	case strings.HasPrefix(u, "d"):
		unit = 86400e3
	case strings.HasPrefix(u, "w"):
		unit = 7 * 86400e3
	default: // years
		unit = 365.25 * 86400e3
	}
	// Whole milliseconds, like the server's timestamps.
	ms := math.Round(n * unit)
	if math.IsNaN(ms) || math.Abs(ms) > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// formatMS writes a duration in the largest `ms` unit that divides it.
func formatMS(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.unit
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
