package infisicaltest_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// listPath is the list-secrets query exactly as the SDK sends it for a
// project ID, with the path, expansion and recursion to vary.
func listPath(path string, expand, recursive bool) string {
	return fmt.Sprintf("/api/v3/secrets/raw?workspaceId=%s&workspaceSlug=&environment=dev&secretPath=%s&expandSecretReferences=%t&include_imports=false&recursive=%t",
		projectID, path, expand, recursive)
}

type listed struct {
	Secrets []struct {
		SecretKey         string `json:"secretKey"`
		SecretValue       string `json:"secretValue"`
		SecretPath        string `json:"secretPath"`
		SecretValueHidden bool   `json:"secretValueHidden"`
	} `json:"secrets"`
	Imports []struct {
		SecretPath  string `json:"secretPath"`
		Environment string `json:"environment"`
		Secrets     []struct {
			SecretKey   string `json:"secretKey"`
			SecretValue string `json:"secretValue"`
		} `json:"secrets"`
	} `json:"imports"`
}

// flat renders a list answer as "PATH KEY=VALUE" lines, imports as
// "import ENV PATH KEY=VALUE".
func (l listed) flat() []string {
	out := []string{}
	for _, s := range l.Secrets {
		v := s.SecretValue
		if s.SecretValueHidden {
			v += " (hidden)"
		}
		out = append(out, s.SecretPath+" "+s.SecretKey+"="+v)
	}
	for _, im := range l.Imports {
		for _, s := range im.Secrets {
			out = append(out, "import "+im.Environment+" "+im.SecretPath+" "+s.SecretKey+"="+s.SecretValue)
		}
	}
	return out
}

func TestListSecrets(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(e *infisicaltest.Emulator)
		path        string
		wantStatus  int
		wantError   string
		wantMessage string
		want        []string
	}{
		{name: "by-id", path: listPath("/", true, false), wantStatus: 200, want: []string{"/ API_KEY=k-1", "/ DB_URL=postgres://db/app"}},
		{name: "by-slug", path: "/api/v3/secrets/raw?workspaceSlug=" + slug + "&environment=dev", wantStatus: 200, want: []string{"/ API_KEY=k-1", "/ DB_URL=postgres://db/app"}},
		{name: "id-wins-over-slug", path: "/api/v3/secrets/raw?workspaceId=" + projectID + "&workspaceSlug=nope&environment=dev", wantStatus: 200, want: []string{"/ API_KEY=k-1", "/ DB_URL=postgres://db/app"}},
		{name: "trailing-slash-normalised", setup: func(e *infisicaltest.Emulator) {
			e.SetSecrets(projectID, "dev", "/app/api", map[string]string{"TOKEN": "t"})
		}, path: listPath("%2Fapp%2Fapi%2F", false, false), wantStatus: 200, want: []string{"/app/api TOKEN=t"}},
		{name: "empty-folder", setup: func(e *infisicaltest.Emulator) { e.AddFolder(projectID, "dev", "/empty") }, path: listPath("/empty", false, false), wantStatus: 200, want: []string{}},
		{name: "bad-boolean", path: strings.Replace(listPath("/", true, false), "recursive=false", "recursive=yes", 1), wantStatus: 422, wantError: "ValidationFailure",
			wantMessage: `[{"code":"invalid_enum_value","received":"yes","options":["true","false"],"path":["recursive"],"message":"Invalid enum value. Expected 'true' | 'false', received 'yes'"}]`},
		{name: "no-project", path: "/api/v3/secrets/raw?workspaceId=&workspaceSlug=&environment=dev", wantStatus: 400, wantError: "BadRequest", wantMessage: "You must provide projectSlug or workspaceId"},
		{name: "no-environment", path: "/api/v3/secrets/raw?workspaceId=" + projectID, wantStatus: 400, wantError: "BadRequest", wantMessage: "Missing project id or environment"},
		{name: "unknown-project", path: "/api/v3/secrets/raw?workspaceId=nope&environment=dev", wantStatus: 404, wantError: "NotFound", wantMessage: "Project with ID 'nope' not found"},
		{name: "unknown-slug", path: "/api/v3/secrets/raw?workspaceSlug=nope&environment=dev", wantStatus: 404, wantError: "NotFound", wantMessage: "Project with slug 'nope' not found"},
		{name: "missing-path", path: listPath("/nope", false, false), wantStatus: 404, wantError: "SecretPathNotFound",
			wantMessage: "Folder with path '/nope' in environment 'dev' was not found. Please ensure the environment slug and secret path is correct."},
		{name: "missing-environment", path: strings.Replace(listPath("/", false, false), "environment=dev", "environment=qa", 1), wantStatus: 404, wantError: "SecretPathNotFound",
			wantMessage: "Folder with path '/' in environment 'qa' was not found. Please ensure the environment slug and secret path is correct."},
		{name: "legacy-missing-path", setup: func(e *infisicaltest.Emulator) { e.SetLegacyMissingPath(true) }, path: listPath("/nope", false, false), wantStatus: 200, want: []string{}},
		{name: "legacy-missing-environment-recursive", setup: func(e *infisicaltest.Emulator) { e.SetLegacyMissingPath(true) },
			path: strings.Replace(listPath("/", false, true), "environment=dev", "environment=qa", 1), wantStatus: 404, wantError: "NotFound",
			wantMessage: "Environment with slug 'qa' in project with ID '" + projectID + "' not found"},
		{name: "invalid-path", path: listPath("/a.b", false, false), wantStatus: 400, wantError: "BadRequest", wantMessage: "Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed."},
		{name: "not-member", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{NotMember: true})
		}, path: listPath("/", false, false), wantStatus: 403, wantError: "You are not member of this project", wantMessage: "You are not allowed to access this resource"},
		{name: "other-organisation", setup: func(e *infisicaltest.Emulator) {
			e.AddProject(infisicaltest.Project{ID: projectID, OrgID: "other-org"})
		}, path: listPath("/", false, false), wantStatus: 403, wantError: "This project does not belong to your selected organization.", wantMessage: "You are not allowed to access this resource"},
		{name: "describe-without-read", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{CannotReadValues: true})
		}, path: listPath("/", false, false), wantStatus: 403, wantError: "ForbiddenError", wantMessage: "You do not have permission to read secret values"},
		{name: "hidden-values-when-asked", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{CannotReadValues: true})
		}, path: listPath("/", false, false) + "&viewSecretValue=false", wantStatus: 200, want: []string{"/ API_KEY=<hidden-by-infisical> (hidden)", "/ DB_URL=<hidden-by-infisical> (hidden)"}},
		{name: "references-expanded", setup: setRefs, path: listPath("/app", true, false), wantStatus: 200, want: []string{
			"/app LOCAL=base", "/app NESTED=base/x", "/app CROSS=prod-root", "/app DEEP=deep-value", "/app MISSING=${NOPE}", "/app EMPTY_REF=${EMPTY}", "/app EMPTY=", "/app CYCLE_A=${CYCLE_B}", "/app CYCLE_B=${CYCLE_A}",
		}},
		{name: "references-literal-without-expand", setup: setRefs, path: listPath("/app", false, false), wantStatus: 200, want: []string{
			"/app LOCAL=base", "/app NESTED=${LOCAL}/x", "/app CROSS=${prod.ROOT}", "/app DEEP=${prod.a.b.DEEP}", "/app MISSING=${NOPE}", "/app EMPTY_REF=${EMPTY}", "/app EMPTY=", "/app CYCLE_A=${CYCLE_B}", "/app CYCLE_B=${CYCLE_A}",
		}},
		{name: "reference-forbidden", setup: func(e *infisicaltest.Emulator) {
			setRefs(e)
			e.SetAccess("identity-1", projectID, infisicaltest.Access{DenySecrets: []infisicaltest.Scope{{Environment: "prod", Path: "/a/*"}}})
		}, path: listPath("/app", true, false), wantStatus: 403, wantError: "ForbiddenError", wantMessage: "Failed to expand one or more secret references"},
		{name: "recursive", setup: func(e *infisicaltest.Emulator) {
			e.SetSecrets(projectID, "dev", "/app", map[string]string{"A": "1"})
			e.SetSecrets(projectID, "dev", "/app/sub", map[string]string{"A": "2"})
			e.SetSecrets(projectID, "dev", "/apple", map[string]string{"Z": "z"})
		}, path: listPath("/app", false, true), wantStatus: 200, want: []string{"/app A=1", "/app/sub A=2"}},
		{name: "imports", setup: func(e *infisicaltest.Emulator) {
			e.SetSecrets(projectID, "prod", "/shared", map[string]string{"SHARED": "s"})
			e.AddImport(projectID, "dev", "/", infisicaltest.Import{Environment: "prod", Path: "/shared"})
		}, path: strings.Replace(listPath("/", false, false), "include_imports=false", "include_imports=true", 1), wantStatus: 200,
			want: []string{"/ API_KEY=k-1", "/ DB_URL=postgres://db/app", "import prod /shared SHARED=s"}},
		{name: "bad-key-names-verbatim", setup: func(e *infisicaltest.Emulator) {
			e.SetSecretList(projectID, "dev", "/", []infisicaltest.Secret{{Key: "database-url", Value: "a"}, {Key: "stripeKey", Value: "b"}, {Key: "", Value: "c"}, {Key: "DUP", Value: "1"}, {Key: "DUP", Value: "2"}, {Key: "1X", Value: "d"}})
		}, path: listPath("/", false, false), wantStatus: 200, want: []string{"/ database-url=a", "/ stripeKey=b", "/ =c", "/ DUP=1", "/ DUP=2", "/ 1X=d"}},
		{name: "personal-excluded-and-tags", setup: func(e *infisicaltest.Emulator) {
			e.SetSecretList(projectID, "dev", "/", []infisicaltest.Secret{{Key: "A", Value: "a", Tags: []infisicaltest.Tag{{Slug: "prod"}}}, {Key: "B", Value: "b"}, {Key: "C", Value: "c", Type: "personal", Tags: []infisicaltest.Tag{{Slug: "prod"}}}})
		}, path: listPath("/", false, false) + "&tagSlugs=prod", wantStatus: 200, want: []string{"/ A=a"}},
		{name: "multiline-skip-encoding", setup: func(e *infisicaltest.Emulator) {
			e.SetSecretList(projectID, "dev", "/", []infisicaltest.Secret{{Key: "PEM", Value: "l1\nl2", SkipMultilineEncoding: true}})
		}, path: listPath("/", true, false), wantStatus: 200, want: []string{`/ PEM="l1\nl2"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			a := do(t, e, "GET", tc.path, login(t, e), "")
			if tc.wantStatus != 200 {
				wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
				if n := e.Counts().SecretLists; n != 0 {
					t.Fatalf("SecretLists = %d after an error", n)
				}
				return
			}
			if a.status != 200 {
				t.Fatalf("got %d %s", a.status, a.body)
			}
			var l listed
			a.decode(t, &l)
			if got := l.flat(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			if n := e.Counts().SecretLists; n != 1 {
				t.Fatalf("SecretLists = %d", n)
			}
		})
	}
}

// setRefs plants secrets with every kind of reference at dev:/app.
func setRefs(e *infisicaltest.Emulator) {
	e.SetSecrets(projectID, "prod", "/", map[string]string{"ROOT": "prod-root"})
	e.SetSecrets(projectID, "prod", "/a/b", map[string]string{"DEEP": "deep-value"})
	e.SetSecretList(projectID, "dev", "/app", []infisicaltest.Secret{
		{Key: "LOCAL", Value: "base"},
		{Key: "NESTED", Value: "${LOCAL}/x"},
		{Key: "CROSS", Value: "${prod.ROOT}"},
		{Key: "DEEP", Value: "${prod.a.b.DEEP}"},
		{Key: "MISSING", Value: "${NOPE}"},
		{Key: "EMPTY_REF", Value: "${EMPTY}"},
		{Key: "EMPTY", Value: ""},
		{Key: "CYCLE_A", Value: "${CYCLE_B}"},
		{Key: "CYCLE_B", Value: "${CYCLE_A}"},
	})
}

func TestListSecrets_etag(t *testing.T) {
	get := func(t *testing.T, e *infisicaltest.Emulator, tok, inm string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL()+listPath("/", false, false), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("ETag")
	}
	t.Run("normal", func(t *testing.T) {
		e := frozenFixture(t)
		tok := login(t, e)
		st, tag := get(t, e, tok, "")
		if st != 200 || !strings.HasPrefix(tag, `"`) {
			t.Fatalf("first: %d %q", st, tag)
		}
		if st, _ := get(t, e, tok, tag); st != 304 {
			t.Fatalf("same content: %d, want 304", st)
		}
		e.SetSecret(projectID, "dev", "/", "API_KEY", "k-2")
		if st, tag2 := get(t, e, tok, tag); st != 200 || tag2 == tag {
			t.Fatalf("after rotation: %d %q (old %q)", st, tag2, tag)
		}
		if n := e.Counts().SecretLists; n != 3 {
			t.Fatalf("SecretLists = %d, want 3 (304 counts)", n)
		}
	})
	modes := []struct {
		name     string
		mode     infisicaltest.ETagMode
		inm      string
		wantCode int
		wantTag  bool
	}{
		{"off", infisicaltest.ETagOff, `"x"`, 200, false},
		{"ignore-if-none-match", infisicaltest.ETagIgnoreIfNoneMatch, "same", 200, true},
		{"always-304", infisicaltest.ETagAlways304, `"stale"`, 304, true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := frozenFixture(t)
			tok := login(t, e)
			_, tag := get(t, e, tok, "")
			e.SetETagMode(m.mode)
			inm := m.inm
			if inm == "same" {
				inm = tag
			}
			st, got := get(t, e, tok, inm)
			if st != m.wantCode || (got != "") != m.wantTag {
				t.Fatalf("got %d ETag %q", st, got)
			}
		})
	}
	t.Run("churn", func(t *testing.T) {
		e := frozenFixture(t)
		e.SetETagMode(infisicaltest.ETagChurn)
		tok := login(t, e)
		_, a := get(t, e, tok, "")
		st, b := get(t, e, tok, a)
		if st != 200 || a == b {
			t.Fatalf("churn: %d %q %q", st, a, b)
		}
	})
}

func TestGetSecret(t *testing.T) {
	q := "?workspaceId=" + projectID + "&environment=dev&secretPath=%2F&expandSecretReferences=true&include_imports=true&type=shared"
	tests := []struct {
		name        string
		setup       func(e *infisicaltest.Emulator)
		path        string
		wantStatus  int
		wantError   string
		wantMessage string
		wantValue   string
	}{
		{name: "ok", path: "/api/v3/secrets/raw/API_KEY" + q, wantStatus: 200, wantValue: "k-1"},
		{name: "missing-key", path: "/api/v3/secrets/raw/NOPE" + q, wantStatus: 404, wantError: "NotFound", wantMessage: "Secret with name 'NOPE' not found"},
		{name: "missing-folder", path: "/api/v3/secrets/raw/API_KEY" + strings.Replace(q, "%2F", "%2Fx", 1), wantStatus: 404, wantError: "GetSecretByName", wantMessage: "Folder with path '/x' in environment with slug 'dev' not found"},
		{name: "forbidden", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{CannotReadValues: true})
		}, path: "/api/v3/secrets/raw/API_KEY" + q, wantStatus: 403, wantError: "ForbiddenReadSecretError", wantMessage: "You do not have permission to view secret value on secret with name 'API_KEY'"},
		{name: "imports-last-first", setup: func(e *infisicaltest.Emulator) {
			e.SetSecrets(projectID, "prod", "/one", map[string]string{"IMP": "from-one"})
			e.SetSecrets(projectID, "prod", "/two", map[string]string{"IMP": "from-two"})
			e.AddImport(projectID, "dev", "/", infisicaltest.Import{Environment: "prod", Path: "/one"})
			e.AddImport(projectID, "dev", "/", infisicaltest.Import{Environment: "prod", Path: "/two"})
		}, path: "/api/v3/secrets/raw/IMP" + q, wantStatus: 200, wantValue: "from-two"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			a := do(t, e, "GET", tc.path, login(t, e), "")
			if tc.wantStatus != 200 {
				wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
				return
			}
			var got struct {
				Secret struct {
					SecretValue string `json:"secretValue"`
				} `json:"secret"`
			}
			a.decode(t, &got)
			if a.status != 200 || got.Secret.SecretValue != tc.wantValue {
				t.Fatalf("got %d %s", a.status, a.body)
			}
		})
	}
}

func TestWorkspaceLookup(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(e *infisicaltest.Emulator)
		path        string
		wantStatus  int
		wantError   string
		wantMessage string
		wantSlug    string // read from wrap.slug, or the top level when wrap is ""
		wrap        string
	}{
		{name: "v1-workspace", path: "/api/v1/workspace/" + projectID, wantStatus: 200, wantSlug: slug, wrap: "workspace"},
		{name: "v1-projects", path: "/api/v1/projects/" + projectID, wantStatus: 200, wantSlug: slug, wrap: "project"},
		{name: "v2-by-slug", path: "/api/v2/workspace/" + slug, wantStatus: 200, wantSlug: slug},
		{name: "renamed", setup: func(e *infisicaltest.Emulator) {
			e.AddProject(infisicaltest.Project{ID: projectID, Slug: "renamed-slug"})
		}, path: "/api/v1/workspace/" + projectID, wantStatus: 200, wantSlug: "renamed-slug", wrap: "workspace"},
		{name: "unknown", path: "/api/v1/workspace/nope", wantStatus: 404, wantError: "NotFound", wantMessage: "Project with ID 'nope' not found"},
		{name: "not-member", setup: func(e *infisicaltest.Emulator) {
			e.SetAccess("identity-1", projectID, infisicaltest.Access{NotMember: true})
		}, path: "/api/v1/workspace/" + projectID, wantStatus: 403, wantError: "You are not member of this project", wantMessage: "You are not allowed to access this resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := frozenFixture(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			a := do(t, e, "GET", tc.path, login(t, e), "")
			if tc.wantStatus != 200 {
				wantError(t, a, tc.wantStatus, tc.wantError, tc.wantMessage)
				return
			}
			var body map[string]any
			a.decode(t, &body)
			obj := body
			if tc.wrap != "" {
				obj, _ = body[tc.wrap].(map[string]any)
			}
			envs, _ := obj["environments"].([]any)
			if a.status != 200 || obj["slug"] != tc.wantSlug || len(envs) != 2 {
				t.Fatalf("got %d %s", a.status, a.body)
			}
			if n := e.Counts().WorkspaceLookups; n != 1 {
				t.Fatalf("WorkspaceLookups = %d", n)
			}
		})
	}
}
