package infisicaltest

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// AddProject adds a project or updates the one with the same ID (a changed
// Slug is a rename). Listed environments are added; existing environments,
// folders and secrets are kept.
func (e *Emulator) AddProject(p Project) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr := e.projectLocked(p.ID)
	if p.Slug != "" {
		pr.slug = p.Slug
	}
	switch {
	case p.Name != "":
		pr.name = p.Name
	case p.Slug != "":
		pr.name = p.Slug
	}
	pr.orgID = p.OrgID
	pr.updatedAt = e.clock.Now()
	for _, env := range p.Environments {
		e.envLocked(pr, env)
	}
}

// RemoveProject deletes a project with everything in it.
func (e *Emulator) RemoveProject(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.projects, id)
}

// AddFolder creates a folder (and its parents) in an environment.
func (e *Emulator) AddFolder(projectID, env, folderPath string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.folderLocked(projectID, env, folderPath)
}

// RemoveFolder deletes a folder and everything below it; removing "/"
// removes the environment.
func (e *Emulator) RemoveFolder(projectID, env, folderPath string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pr := e.projects[projectID]
	if pr == nil {
		return
	}
	en := pr.env(env)
	if en == nil {
		return
	}
	p := mustPath(folderPath)
	if p == "/" {
		for i, x := range pr.envs {
			if x == en {
				pr.envs = append(pr.envs[:i], pr.envs[i+1:]...)
				break
			}
		}
		return
	}
	for fp := range en.folders {
		if isUnder(fp, p) {
			delete(en.folders, fp)
		}
	}
}

// projectLocked returns the project with id, creating it (slug = id) if needed.
func (e *Emulator) projectLocked(id string) *project {
	pr := e.projects[id]
	if pr == nil {
		now := e.clock.Now()
		pr = &project{id: id, slug: id, name: id, createdAt: now, updatedAt: now}
		e.projects[id] = pr
	}
	return pr
}

func (e *Emulator) envLocked(pr *project, slug string) *environment {
	if en := pr.env(slug); en != nil {
		return en
	}
	en := &environment{id: e.nextID(), slug: slug, name: envName(slug), folders: map[string]*folder{}}
	en.folders["/"] = &folder{id: e.nextID(), path: "/", createdAt: e.clock.Now()}
	pr.envs = append(pr.envs, en)
	return en
}

// envName is the display name Infisical gives its default environments.
func envName(slug string) string {
	switch slug {
	case "dev":
		return "Development"
	case "staging":
		return "Staging"
	case "prod":
		return "Production"
	}
	return slug
}

// folderLocked returns the folder, creating project, environment and
// parent folders as needed.
func (e *Emulator) folderLocked(projectID, env, folderPath string) *folder {
	en := e.envLocked(e.projectLocked(projectID), env)
	p := mustPath(folderPath)
	f := en.folders[p]
	if f != nil {
		return f
	}
	if parent := path.Dir(p); parent != p {
		e.folderLocked(projectID, env, parent)
	}
	f = &folder{id: e.nextID(), path: p, createdAt: e.clock.Now()}
	en.folders[p] = f
	return f
}

var segmentPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// normalizeSecretPath applies the server's path rules: trimmed, a leading
// slash, no trailing slash except for the root, and every segment made of
// letters, digits, dashes and underscores.
func normalizeSecretPath(p string) (string, bool) {
	p = strings.TrimSpace(p)
	if p == "" || p == "/" {
		return "/", true
	}
	p = "/" + strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p[1:], "/") {
		if !segmentPattern.MatchString(seg) {
			return "", false
		}
	}
	return p, true
}

func mustPath(p string) string {
	n, ok := normalizeSecretPath(p)
	if !ok {
		panic(fmt.Sprintf("infisicaltest: invalid secret path %q", p))
	}
	return n
}

// project resolution and permissions for a call

func (e *Emulator) accessLocked(identityID, projectID string) Access {
	return e.access[[2]string{identityID, projectID}]
}

// checkProjectLocked refuses a call whose identity may not use the project.
func (e *Emulator) checkProjectLocked(c *call, pr *project) *apiError {
	org := ""
	if id := e.identities[c.tok.rec.identityID]; id != nil {
		org = id.OrgID
	}
	if pr.orgID != org {
		return newAPIError(403, MsgOtherOrganization, MsgNotAllowed)
	}
	if e.accessLocked(c.tok.rec.identityID, pr.id).NotMember {
		return newAPIError(403, MsgNotProjectMember, MsgNotAllowed)
	}
	return nil
}

func (e *Emulator) projectBySlugLocked(slug string) *project {
	for _, pr := range e.projects {
		if pr.slug == slug {
			return pr
		}
	}
	return nil
}

// resolveProjectLocked finds a project by ID (preferred) or slug, and
// checks the caller may use it.
func (e *Emulator) resolveProjectLocked(c *call, id, slug string) (*project, *apiError) {
	var pr *project
	switch {
	case id != "":
		if pr = e.projects[id]; pr == nil {
			return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Project with ID '%s' not found", id))
		}
	case slug != "":
		if pr = e.projectBySlugLocked(slug); pr == nil {
			return nil, newAPIError(404, ErrNameNotFound, fmt.Sprintf("Project with slug '%s' not found", slug))
		}
	default:
		return nil, newAPIError(400, ErrNameBadRequest, MsgMissingProjectParam)
	}
	if err := e.checkProjectLocked(c, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

// scopeDenied reports whether secrets at env/path are out of the
// identity's reach.
func (a Access) scopeDenied(env, p string) bool {
	for _, s := range a.DenySecrets {
		if s.Environment != "" && s.Environment != env {
			continue
		}
		if s.Path == "" || s.Path == p {
			return true
		}
		if m, _ := path.Match(s.Path, p); m {
			return true
		}
	}
	return false
}

func (e *Emulator) wireProjectLocked(pr *project) wireProject {
	envs := make([]wireEnvironment, 0, len(pr.envs))
	for _, en := range pr.envs {
		envs = append(envs, wireEnvironment{ID: en.id, Name: en.name, Slug: en.slug})
	}
	return wireProject{
		ID: pr.id, LegacyID: pr.id, Name: pr.name, Slug: pr.slug, OrgID: orgIDOrDefault(pr.orgID),
		Type: "secret-manager", Version: 3, Environments: envs,
		CreatedAt: timestamp(pr.createdAt), UpdatedAt: timestamp(pr.updatedAt),
	}
}

func orgIDOrDefault(org string) string {
	if org == "" {
		return "00000000-0000-4000-9000-000000000001" // outside the sequence nextID draws from
	}
	return org
}

func (e *Emulator) handleGetWorkspace(c *call) (*response, *apiError) {
	return e.projectByID(c, "workspace")
}

func (e *Emulator) handleGetProject(c *call) (*response, *apiError) {
	return e.projectByID(c, "project")
}

func (e *Emulator) projectByID(c *call, wrap string) (*response, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	pr, err := e.resolveProjectLocked(c, c.params["projectId"], "")
	if err != nil {
		return nil, err
	}
	e.counts.WorkspaceLookups++
	return ok(map[string]any{wrap: e.wireProjectLocked(pr)}), nil
}

func (e *Emulator) handleGetWorkspaceBySlug(c *call) (*response, *apiError) {
	if err := e.authenticate(c); err != nil {
		return nil, err
	}
	pr, err := e.resolveProjectLocked(c, "", c.params["slug"])
	if err != nil {
		return nil, err
	}
	e.counts.WorkspaceLookups++
	return ok(e.wireProjectLocked(pr)), nil
}
