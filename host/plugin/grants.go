package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/sdk/abi"
)

// A manifest requests; the operator grants. A plugin receives an
// environment variable, a file's content or an HTTP origin only when its
// manifest asks for it and its grant allows it. The operator writes the
// grants of third-party plugins in the grants file (GrantsFile); a shipped
// plugin without an entry there gets what its manifest asks for, since it
// is part of the product. Whatever is granted, no plugin ever receives an
// AGENT_VAULT_* variable, or a file under /proc, /sys or Config.DenyPaths
// (the data directory).

// ReservedEnvPrefix starts the host's own settings, which no plugin may
// request or be granted.
const ReservedEnvPrefix = "AGENT_VAULT_"

// alwaysDeniedPaths hold no file a plugin has any business reading: the
// process's environment, memory and descriptors, the kernel's state.
var alwaysDeniedPaths = []string{"/proc", "/sys"}

// Grant is the operator's grant to one plugin kind: an entry of the grants
// file's "plugins" object.
type Grant struct {
	// SHA256 pins the module (hex). Required for a third-party plugin, which
	// loads only when its file hashes to it; for a shipped one, optional.
	SHA256 string `json:"sha256,omitempty"`
	// Env names the environment variables the plugin may receive (each
	// must also be declared in its manifest).
	Env []string `json:"env,omitempty"`
	// Files are the absolute paths the plugin may receive the content of,
	// through a manifest env var marked "file" (its value or default is
	// the path).
	Files []string `json:"files,omitempty"`
	// HTTPOrigins are the origins (scheme://host[:port]) the plugin may
	// reach, each also requested by its manifest (http_origins, or the
	// value of its http_origins_env variable). Granted origins may resolve
	// to private addresses; cloud metadata addresses stay blocked.
	HTTPOrigins []string `json:"http_origins,omitempty"`
}

// GrantsFile is the operator's plugin grants file (JSON).
type GrantsFile struct {
	// Plugins maps a plugin kind to its grant.
	Plugins map[string]Grant `json:"plugins"`
}

var (
	grantKind = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	grantEnv  = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,127}$`)
	grantHash = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// ReadGrantsFile reads and checks a grants file; see ParseGrants.
func ReadGrantsFile(path string) (map[string]Grant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, domain.FieldError(domain.CodeInvalidPluginGrants, "plugin_grants", "reading the plugin grants file: %v", err)
	}
	g, err := ParseGrants(b)
	if err != nil {
		return nil, domain.FieldError(domain.CodeInvalidPluginGrants, "plugin_grants", "%s: %v", path, err)
	}
	return g, nil
}

// ParseGrants decodes a grants file strictly (unknown fields are errors)
// and checks every entry: kinds and env names well formed, no AGENT_VAULT_*
// variable, absolute file paths outside /proc and /sys, valid origins, and
// a 64-digit hex sha256. Paths are cleaned and origins canonicalised.
func ParseGrants(data []byte) (map[string]Grant, error) {
	var f GrantsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a valid grants file: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a valid grants file: trailing data after the JSON object")
	}
	out := make(map[string]Grant, len(f.Plugins))
	for kind, g := range f.Plugins {
		if !grantKind.MatchString(kind) {
			return nil, fmt.Errorf("plugin %q: a kind must match %s", abi.Truncate(kind, 80), grantKind)
		}
		if g.SHA256 != "" && !grantHash.MatchString(g.SHA256) {
			return nil, fmt.Errorf("plugin %q: sha256 must be 64 hex digits", kind)
		}
		g.SHA256 = strings.ToLower(g.SHA256)
		for _, e := range g.Env {
			if !grantEnv.MatchString(e) {
				return nil, fmt.Errorf("plugin %q: env %q is not a variable name", kind, abi.Truncate(e, 80))
			}
			if strings.HasPrefix(e, ReservedEnvPrefix) {
				return nil, fmt.Errorf("plugin %q: env %s: %s* variables are the host's own and are never granted", kind, e, ReservedEnvPrefix)
			}
		}
		files := make([]string, 0, len(g.Files))
		for _, p := range g.Files {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("plugin %q: file %q must be an absolute path", kind, abi.Truncate(p, 200))
			}
			p = filepath.Clean(p)
			if under(p, alwaysDeniedPaths) {
				return nil, fmt.Errorf("plugin %q: file %s is under %s, which no plugin may read", kind, p, strings.Join(alwaysDeniedPaths, " or "))
			}
			files = append(files, p)
		}
		g.Files = files
		origins := make([]string, 0, len(g.HTTPOrigins))
		for _, o := range g.HTTPOrigins {
			canon, err := abi.ParseOrigin(o)
			if err != nil {
				return nil, fmt.Errorf("plugin %q: http_origins: %v", kind, err)
			}
			origins = append(origins, canon)
		}
		g.HTTPOrigins = origins
		out[kind] = g
	}
	return out, nil
}

// grant is what one loaded plugin is actually given: its manifest's
// requests cut down to the operator's grant.
type grant struct {
	env      map[string]bool // variable names passed to the plugin
	anyFile  bool            // a shipped plugin's default: any path outside the denied ones
	files    map[string]bool // cleaned absolute paths
	origins  []string        // canonical origins it may reach
	exempt   []string        // of those, the ones the operator named: private addresses allowed
	notGiven []string        // requests refused, for the load log
}

// reservedRequests lists the manifest's requests for AGENT_VAULT_*
// variables; a plugin making any is refused at load.
func reservedRequests(m abi.Manifest) []string {
	var out []string
	for _, e := range m.Env {
		for _, n := range e.Names() {
			if strings.HasPrefix(n, ReservedEnvPrefix) {
				out = append(out, n)
			}
		}
	}
	return out
}

// resolveGrant computes what a plugin with manifest m is given. op is the
// operator's grant (nil: none); shipped plugins without one get what they
// request. getenv reads the operator's environment (for http_origins_env).
func resolveGrant(m abi.Manifest, op *Grant, shipped bool, getenv func(string) string) (*grant, error) {
	g := &grant{env: map[string]bool{}, files: map[string]bool{}}
	defaults := op == nil && shipped
	// Each name is granted on its own, fallback names too: granting
	// OPENBAO_ADDR does not let the plugin read VAULT_ADDR.
	for _, e := range m.Env {
		for _, n := range e.Names() {
			if defaults || slices.Contains(op.envList(), n) {
				g.env[n] = true
			} else {
				g.notGiven = append(g.notGiven, "env "+n)
			}
		}
	}
	if defaults {
		g.anyFile = true
	} else {
		for _, f := range op.Files {
			g.files[f] = true
		}
	}
	// Requested origins: the manifest's, and the operator's value of the
	// http_origins_env variable: the first of its granted names that is set.
	type req struct {
		origin   string
		operator bool
	}
	var requested []req
	for _, o := range m.HTTPOrigins {
		if canon, err := abi.ParseOrigin(o); err == nil {
			requested = append(requested, req{canon, false})
		}
	}
	if e, ok := envEntry(m, m.HTTPOriginsEnv); ok {
		value, from := e.Lookup(getenv, g.granted)
		for _, o := range strings.Split(value, ",") {
			if strings.TrimSpace(o) == "" {
				continue
			}
			canon, err := abi.ParseOrigin(o)
			if err != nil {
				return nil, fmt.Errorf("environment variable %s: %v", from, err)
			}
			requested = append(requested, req{canon, true})
		}
	}
	allowed := map[string]bool{}
	if op != nil {
		for _, o := range op.HTTPOrigins {
			if canon, err := abi.ParseOrigin(o); err == nil {
				allowed[canon] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range requested {
		if seen[r.origin] {
			continue
		}
		seen[r.origin] = true
		switch {
		case defaults:
			g.origins = append(g.origins, r.origin)
			if r.operator {
				g.exempt = append(g.exempt, r.origin)
			}
		case allowed[r.origin]:
			g.origins = append(g.origins, r.origin)
			g.exempt = append(g.exempt, r.origin)
		default:
			g.notGiven = append(g.notGiven, "origin "+r.origin)
		}
	}
	return g, nil
}

// envEntry returns the manifest's env entry called name.
func envEntry(m abi.Manifest, name string) (abi.EnvVar, bool) {
	for _, e := range m.Env {
		if name != "" && e.Name == name {
			return e, true
		}
	}
	return abi.EnvVar{}, false
}

// granted reports whether the plugin may read the variable name.
func (g *grant) granted(name string) bool { return g.env[name] }

// grantedEntry reports whether any name of e is granted.
func (g *grant) grantedEntry(e abi.EnvVar) bool {
	return slices.ContainsFunc(e.Names(), g.granted)
}

func (op *Grant) envList() []string {
	if op == nil {
		return nil
	}
	return op.Env
}

// logAttrs describes the grant for the load log: names, paths and origins,
// never a value.
func (g *grant) logAttrs() []any {
	env := make([]string, 0, len(g.env))
	for n := range g.env {
		env = append(env, n)
	}
	sort.Strings(env)
	files := "any (shipped plugin)"
	if !g.anyFile {
		fs := make([]string, 0, len(g.files))
		for f := range g.files {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		files = strings.Join(fs, ",")
	}
	return []any{
		"granted_env", strings.Join(env, ","),
		"granted_files", files,
		"granted_origins", strings.Join(g.origins, ","),
		"not_granted", strings.Join(g.notGiven, ","),
	}
}

// readGrantedFile reads the file at path for a "file" env var, at most
// abi.MaxEnvFileBytes, if the grant allows the path and it resolves
// outside every denied tree.
func (g *grant) readGrantedFile(path string, deny []string) ([]byte, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%s is not an absolute path", path)
	}
	clean := filepath.Clean(path)
	if !g.anyFile && !g.files[clean] {
		return nil, fmt.Errorf("%s is not granted to this plugin", clean)
	}
	denied := append(append([]string(nil), alwaysDeniedPaths...), deny...)
	if under(clean, denied) {
		return nil, fmt.Errorf("%s is in a directory no plugin may read", clean)
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return nil, err
	}
	if under(resolved, denied) {
		return nil, fmt.Errorf("%s is in a directory no plugin may read", clean)
	}
	f, err := openNoFollow(resolved)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// What was opened, not what the name pointed to a moment ago.
	if err := checkOpened(f, denied); err != nil {
		return nil, fmt.Errorf("%s: %v", clean, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, abi.MaxEnvFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > abi.MaxEnvFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", clean, abi.MaxEnvFileBytes)
	}
	return b, nil
}

// under reports whether path is one of dirs or inside one.
func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		d = filepath.Clean(d)
		if path == d || strings.HasPrefix(path, strings.TrimSuffix(d, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// scrubValues replaces every value the plugin was given (at least
// minScrubLen bytes long) in msg with a marker naming its variable, so a
// plugin's error message or summary cannot carry a granted value into an
// API response. skip names a variable whose value is not secret (the
// http_origins_env list, which error messages legitimately name).
func scrubValues(msg string, env map[string]string, skip string) string {
	var names []string
	for name, v := range env {
		if name != skip && len(v) >= minScrubLen && strings.Contains(msg, v) {
			names = append(names, name)
		}
	}
	// Longest first: a value containing another must go whole.
	sort.Slice(names, func(i, j int) bool { return len(env[names[i]]) > len(env[names[j]]) })
	for _, name := range names {
		msg = strings.ReplaceAll(msg, env[name], "[redacted:"+name+"]")
	}
	return msg
}

// givenKey carries the values a call gave the plugin, so the plugin's log
// lines and stderr can be scrubbed too.
type givenKey struct{}

type given struct {
	env  map[string]string
	skip string
}

func withGiven(ctx context.Context, env map[string]string, skip string) context.Context {
	if len(env) == 0 {
		return ctx
	}
	return context.WithValue(ctx, givenKey{}, given{env, skip})
}

// scrubGiven is scrubValues with the values of the call ctx belongs to.
func scrubGiven(ctx context.Context, msg string) string {
	if g, ok := ctx.Value(givenKey{}).(given); ok {
		return scrubValues(msg, g.env, g.skip)
	}
	return msg
}

// minScrubLen: shorter values (flags like "true", a region) are too common
// to replace in a message without garbling it, and too short to be secrets.
const minScrubLen = 6
