package infisicaltest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// hiddenValue is what the server sends in place of a value the caller asked
// not to see (viewSecretValue=false).
const hiddenValue = "<hidden-by-infisical>"

// maxReferenceDepth is how deep the server follows nested references.
const maxReferenceDepth = 10

// SetSecrets replaces every secret at a folder with the given key/value
// pairs (in key order). Keys that already existed keep their ID; a changed
// value bumps the version. Project, environment and folder are created if
// needed.
func (e *Emulator) SetSecrets(projectID, env, folderPath string, secrets map[string]string) {
	list := make([]Secret, 0, len(secrets))
	for k, v := range secrets {
		list = append(list, Secret{Key: k, Value: v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Key < list[j].Key })
	e.SetSecretList(projectID, env, folderPath, list)
}

// SetSecretList replaces every secret at a folder, keeping the given order
// and allowing any key, including duplicates and invalid names.
func (e *Emulator) SetSecretList(projectID, env, folderPath string, secrets []Secret) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.folderLocked(projectID, env, folderPath)
	old := map[string]*secret{}
	for _, s := range f.secrets {
		if _, seen := old[s.s.Key]; !seen {
			old[s.s.Key] = s
		}
	}
	f.secrets = f.secrets[:0:0]
	for _, s := range secrets {
		if prev := old[s.Key]; prev != nil {
			delete(old, s.Key)
			e.updateSecretLocked(prev, s)
			f.secrets = append(f.secrets, prev)
			continue
		}
		f.secrets = append(f.secrets, e.newSecretLocked(s))
	}
}

// SetSecret creates or updates one secret (a rotation when it exists).
func (e *Emulator) SetSecret(projectID, env, folderPath, key, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.folderLocked(projectID, env, folderPath)
	for _, s := range f.secrets {
		if s.s.Key == key {
			upd := s.s
			upd.Value = value
			e.updateSecretLocked(s, upd)
			return
		}
	}
	f.secrets = append(f.secrets, e.newSecretLocked(Secret{Key: key, Value: value}))
}

// DeleteSecret removes a secret; it reports whether it existed.
func (e *Emulator) DeleteSecret(projectID, env, folderPath, key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.folderLocked(projectID, env, folderPath)
	for i, s := range f.secrets {
		if s.s.Key == key {
			f.secrets = append(f.secrets[:i], f.secrets[i+1:]...)
			return true
		}
	}
	return false
}

// AddImport makes the folder import another folder's secrets. Imports are
// kept in the order added.
func (e *Emulator) AddImport(projectID, env, folderPath string, from Import) {
	e.mu.Lock()
	defer e.mu.Unlock()
	from.Path = mustPath(from.Path)
	f := e.folderLocked(projectID, env, folderPath)
	f.imports = append(f.imports, from)
}

// SetLegacyMissingPath switches how list-secrets answers a missing
// environment or folder: false (default) is the current 404
// SecretPathNotFound, true is the older servers' 200 with an empty list.
func (e *Emulator) SetLegacyMissingPath(legacy bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.legacyMissingPath = legacy
}

// SetETagMode controls ETag handling of list-secrets.
func (e *Emulator) SetETagMode(m ETagMode) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.etagMode = m
}

func (e *Emulator) newSecretLocked(s Secret) *secret {
	now := e.clock.Now()
	if s.Type == "" {
		s.Type = "shared"
	}
	return &secret{id: e.nextID(), s: s, version: 1, createdAt: now, updatedAt: now, tagIDs: e.tagIDsLocked(s.Tags)}
}

func (e *Emulator) updateSecretLocked(prev *secret, s Secret) {
	if s.Type == "" {
		s.Type = "shared"
	}
	if prev.s.Value != s.Value || prev.s.Comment != s.Comment {
		prev.version++
		prev.updatedAt = e.clock.Now()
	}
	prev.s = s
	prev.tagIDs = e.tagIDsLocked(s.Tags)
}

func (e *Emulator) tagIDsLocked(tags []Tag) []string {
	ids := make([]string, len(tags))
	for i := range tags {
		ids[i] = e.nextID()
	}
	return ids
}

func wireSecretOf(s *secret, projectID, env, folderPath, value string, hidden bool) wireSecret {
	md := make([]wireMetadata, 0, len(s.s.Metadata))
	for _, m := range s.s.Metadata {
		md = append(md, wireMetadata{Key: m.Key, Value: m.Value})
	}
	tags := make([]wireTag, 0, len(s.s.Tags))
	for i, t := range s.s.Tags {
		tags = append(tags, wireTag{ID: s.tagIDs[i], Slug: t.Slug, Name: t.Name, Color: t.Color})
	}
	return wireSecret{
		ID: s.id, LegacyID: s.id, Workspace: projectID, Environment: env, Version: s.version,
		Type: s.s.Type, SecretKey: s.s.Key, SecretValue: value, SecretComment: s.s.Comment,
		SecretPath: folderPath, SecretValueHidden: hidden, SkipMultilineEncoding: s.s.SkipMultilineEncoding,
		SecretMetadata: md, Tags: tags, CreatedAt: timestamp(s.createdAt), UpdatedAt: timestamp(s.updatedAt),
	}
}

// boolParams validates query booleans: only the literals "true" and
// "false" pass; anything else is a 422 listing every bad parameter.
func boolParams(q url.Values, names ...string) (map[string]bool, *apiError) {
	out := map[string]bool{}
	var issues []zodIssue
	for _, n := range names {
		vals, present := q[n]
		if !present {
			continue
		}
		switch vals[0] {
		case "true":
			out[n] = true
		case "false":
		default:
			issues = append(issues, issueEnum(n, vals[0], "true", "false"))
		}
	}
	if issues != nil {
		return nil, validationError(issues...)
	}
	return out, nil
}

// listQuery is the parsed query of a list-secrets call.
type listQuery struct {
	env, path                  string
	expand, imports, recursive bool
	viewValue                  bool
	tagSlugs                   []string
}

func parseListQuery(q url.Values) (listQuery, *apiError) {
	b, err := boolParams(q, "expandSecretReferences", "include_imports", "recursive", "viewSecretValue")
	if err != nil {
		return listQuery{}, err
	}
	lq := listQuery{env: strings.TrimSpace(q.Get("environment")), expand: b["expandSecretReferences"],
		imports: b["include_imports"], recursive: b["recursive"], viewValue: true}
	if _, set := q["viewSecretValue"]; set {
		lq.viewValue = b["viewSecretValue"]
	}
	if t := q.Get("tagSlugs"); t != "" {
		lq.tagSlugs = strings.Split(t, ",")
	}
	p := q.Get("secretPath")
	if p == "" {
		p = "/"
	}
	var valid bool
	if lq.path, valid = normalizeSecretPath(p); !valid {
		return lq, newAPIError(400, ErrNameBadRequest, MsgInvalidSecretPath)
	}
	return lq, nil
}

func (e *Emulator) handleListSecrets(c *call) (*response, *apiError) {
	q := c.r.URL.Query()
	return e.listSecrets(c, q.Get("workspaceId"), q.Get("workspaceSlug"))
}

func (e *Emulator) handleListSecretsV4(c *call) (*response, *apiError) {
	return e.listSecrets(c, c.r.URL.Query().Get("projectId"), "")
}

func (e *Emulator) listSecrets(c *call, projectID, slug string) (*response, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	lq, err := parseListQuery(c.r.URL.Query())
	if err != nil {
		return nil, err
	}
	if projectID == "" && slug == "" {
		return nil, newAPIError(400, ErrNameBadRequest, MsgMissingProjectParam)
	}
	if lq.env == "" {
		return nil, newAPIError(400, ErrNameBadRequest, MsgMissingEnvironment)
	}
	pr, err := e.resolveProjectLocked(c, projectID, slug)
	if err != nil {
		return nil, err
	}
	acc := e.accessLocked(c.tok.rec.identityID, pr.id)
	if lq.viewValue && (acc.CannotReadValues || acc.scopeDenied(lq.env, lq.path)) {
		return nil, newAPIError(403, ErrNameForbidden, MsgReadSecretsDenied)
	}
	out := wireListSecrets{Secrets: []wireSecret{}, Imports: []wireImport{}}
	en := pr.env(lq.env)
	var base *folder
	if en != nil {
		base = en.folderAt(lq.path)
	}
	if base == nil {
		if !e.legacyMissingPath {
			return nil, newAPIError(404, ErrNameSecretPath, fmt.Sprintf("Folder with path '%s' in environment '%s' was not found. Please ensure the environment slug and secret path is correct.", lq.path, lq.env))
		}
		if en == nil && lq.recursive {
			return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", lq.env, pr.id))
		}
		e.counts.SecretLists++
		return e.withETag(c, out), nil
	}
	x := &expander{e: e, pr: pr, acc: acc}
	folders := []*folder{base}
	if lq.recursive {
		folders = folders[:0]
		for _, p := range en.sortedFolderPaths() {
			if isUnder(p, lq.path) {
				folders = append(folders, en.folders[p])
			}
		}
	}
	for _, f := range folders {
		items, err := x.folderSecrets(lq, lq.env, f)
		if err != nil {
			return nil, err
		}
		out.Secrets = append(out.Secrets, items...)
	}
	if lq.imports {
		for _, imp := range base.imports {
			ien := pr.env(imp.Environment)
			if ien == nil || ien.folderAt(imp.Path) == nil {
				continue
			}
			f := ien.folderAt(imp.Path)
			items, err := x.folderSecrets(lq, imp.Environment, f)
			if err != nil {
				return nil, err
			}
			out.Imports = append(out.Imports, wireImport{SecretPath: imp.Path, Environment: imp.Environment, FolderID: f.id, Secrets: items})
		}
	}
	if x.denied != nil {
		return nil, &apiError{status: 403, name: ErrNameForbidden, message: MsgReferenceDenied, details: x.denied}
	}
	e.counts.SecretLists++
	return e.withETag(c, out), nil
}

// withETag answers a list with its ETag, or 304 when the client has it.
// The body is encoded once, for the hash and the answer.
func (e *Emulator) withETag(c *call, out wireListSecrets) *response {
	body := marshal(out)
	resp := &response{status: http.StatusOK, raw: body, header: http.Header{"Content-Type": {jsonContentType}}}
	if e.etagMode == ETagOff {
		return resp
	}
	sum := sha256.Sum256(body)
	if e.etagMode == ETagChurn {
		e.etagChurn++
		sum = sha256.Sum256(append(sum[:], strconv.Itoa(e.etagChurn)...))
	}
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	inm := c.r.Header.Get("If-None-Match")
	if (e.etagMode == ETagNormal && inm == etag) || (e.etagMode == ETagAlways304 && inm != "") {
		return &response{status: http.StatusNotModified, raw: []byte{}, header: http.Header{"ETag": {etag}}}
	}
	resp.header.Set("ETag", etag)
	return resp
}

func (e *Emulator) handleGetSecret(c *call) (*response, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return nil, err
	}
	if lq.env == "" {
		return nil, newAPIError(400, ErrNameBadRequest, MsgMissingEnvironment)
	}
	pr, err := e.resolveProjectLocked(c, q.Get("workspaceId"), q.Get("workspaceSlug"))
	if err != nil {
		return nil, err
	}
	name := c.params["secretName"]
	acc := e.accessLocked(c.tok.rec.identityID, pr.id)
	if acc.CannotReadValues || acc.scopeDenied(lq.env, lq.path) {
		return nil, newAPIError(403, "ForbiddenReadSecretError", fmt.Sprintf("You do not have permission to view secret value on secret with name '%s'", name))
	}
	en := pr.env(lq.env)
	var f *folder
	if en != nil {
		f = en.folderAt(lq.path)
	}
	if f == nil {
		return nil, newAPIError(404, "GetSecretByName", fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", lq.path, lq.env))
	}
	x := &expander{e: e, pr: pr, acc: acc}
	typ := q.Get("type")
	if typ == "" {
		typ = "shared"
	}
	find := func(env string, f *folder) *wireSecret {
		for _, s := range f.secrets {
			if s.s.Key == name && s.s.Type == typ {
				ws := x.wire(lq, env, f.path, s)
				return &ws
			}
		}
		return nil
	}
	found := find(lq.env, f)
	if found == nil && lq.imports {
		// The server searches imports from the last to the first.
		for i := len(f.imports) - 1; i >= 0 && found == nil; i-- {
			imp := f.imports[i]
			if ien := pr.env(imp.Environment); ien != nil && ien.folderAt(imp.Path) != nil {
				found = find(imp.Environment, ien.folderAt(imp.Path))
			}
		}
	}
	if x.denied != nil {
		return nil, &apiError{status: 403, name: ErrNameForbidden, message: MsgReferenceDenied, details: x.denied}
	}
	if found == nil {
		return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Secret with name '%s' not found", name))
	}
	e.counts.SecretRetrieves++
	return ok(map[string]any{"secret": found}), nil
}

// expander resolves ${...} references for one call.
type expander struct {
	e      *Emulator
	pr     *project
	acc    Access
	denied []map[string]string // references the identity may not read
}

var referencePattern = regexp.MustCompile(`\$\{([a-zA-Z0-9_.\-]+)\}`)

func (x *expander) folderSecrets(lq listQuery, env string, f *folder) ([]wireSecret, *apiError) {
	out := []wireSecret{}
	for _, s := range f.secrets {
		if s.s.Type == "personal" || !hasTags(s, lq.tagSlugs) {
			continue
		}
		out = append(out, x.wire(lq, env, f.path, s))
	}
	return out, nil
}

func hasTags(s *secret, slugs []string) bool {
	if len(slugs) == 0 {
		return true
	}
	for _, want := range slugs {
		for _, t := range s.s.Tags {
			if t.Slug == want {
				return true
			}
		}
	}
	return false
}

func (x *expander) wire(lq listQuery, env, folderPath string, s *secret) wireSecret {
	value := s.s.Value
	switch {
	case !lq.viewValue:
		return wireSecretOf(s, x.pr.id, env, folderPath, hiddenValue, true)
	case lq.expand:
		value = x.expand(value, env, folderPath, 0, map[string]bool{})
		if s.s.SkipMultilineEncoding && strings.Contains(value, "\n") {
			value = `"` + strings.ReplaceAll(value, "\n", `\n`) + `"`
		}
	}
	return wireSecretOf(s, x.pr.id, env, folderPath, value, false)
}

// expand substitutes references in value, seen from env/folderPath. A
// reference to a missing or empty secret, past the depth limit, or closing
// a cycle is left as written.
func (x *expander) expand(value, env, folderPath string, depth int, stack map[string]bool) string {
	if depth >= maxReferenceDepth || !strings.Contains(value, "${") {
		return value
	}
	return referencePattern.ReplaceAllStringFunc(value, func(ref string) string {
		renv, rpath, key := parseReference(ref[2:len(ref)-1], env, folderPath)
		id := renv + ":" + rpath + ":" + key
		if key == "" || stack[id] {
			return ref
		}
		if x.acc.scopeDenied(renv, rpath) {
			x.denied = append(x.denied, map[string]string{"environment": renv, "secretPath": rpath, "secretKey": key})
			return ref
		}
		en := x.pr.env(renv)
		if en == nil || en.folderAt(rpath) == nil {
			return ref
		}
		for _, s := range en.folderAt(rpath).secrets {
			if s.s.Key == key && s.s.Type != "personal" {
				if s.s.Value == "" {
					return ref
				}
				stack[id] = true
				v := x.expand(s.s.Value, renv, rpath, depth+1, stack)
				delete(stack, id)
				return v
			}
		}
		return ref
	})
}

// parseReference splits the inside of ${...}: "KEY" is local;
// "env.a.b.KEY" is KEY in folder /a/b of env.
func parseReference(ref, env, folderPath string) (refEnv, refPath, key string) {
	parts := strings.Split(ref, ".")
	if len(parts) == 1 {
		return env, folderPath, ref
	}
	for _, p := range parts {
		if p == "" {
			return "", "", ""
		}
	}
	return parts[0], "/" + strings.Join(parts[1:len(parts)-1], "/"), parts[len(parts)-1]
}
