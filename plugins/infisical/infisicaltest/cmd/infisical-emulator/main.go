// Command infisical-emulator runs the Infisical emulator by hand, for
// trying a broker against it outside the test suite:
//
//	go run ./plugins/infisical/infisicaltest/cmd/infisical-emulator -state state.json
//
// It prints the site URL to configure (INFISICAL_URL) and logs one line per
// request (never headers or bodies). Outside /api it serves a small admin
// surface for manual runs:
//
//	GET    /_emulator/counts   the counters, as JSON
//	POST   /_emulator/faults   inject a fault: {"route":"GET /api/v3/secrets/raw","kind":"status","status":500,"times":3}
//	DELETE /_emulator/faults   clear every fault
//	PUT    /_emulator/secrets  replace a folder's secrets: {"project_id":…,"environment":…,"path":"/","values":{…}}
//
// Fault kinds: status, token_expired, html, non_json, malformed_json,
// delay (with delay_ms), hang, close, reset, revoke_failed. The state file
// is described by the state type below; testdata/state.json is an example.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/agent-vault/agent-vault/plugins/infisical/infisicaltest"
)

// state is the file format: identities, then projects with their secrets
// and dynamic secrets. Durations are Go duration strings ("1h", "90s").
type state struct {
	LegacyMissingPath bool            `json:"legacy_missing_path"`
	Identities        []identityState `json:"identities"`
	Projects          []projectState  `json:"projects"`
}

type identityState struct {
	ID         string                        `json:"id"`
	Universal  *infisicaltest.UniversalAuth  `json:"universal"`
	Kubernetes *infisicaltest.KubernetesAuth `json:"kubernetes"`
	AWS        *infisicaltest.AWSAuth        `json:"aws"`
	GCP        *infisicaltest.GCPAuth        `json:"gcp"`
	LDAP       *infisicaltest.LDAPAuth       `json:"ldap"`
	TTL        string                        `json:"ttl"`
	MaxTTL     string                        `json:"max_ttl"`
}

type projectState struct {
	ID             string               `json:"id"`
	Slug           string               `json:"slug"`
	Environments   []string             `json:"environments"`
	Secrets        []folderSecrets      `json:"secrets"`
	DynamicSecrets []dynamicSecretState `json:"dynamic_secrets"`
}

type folderSecrets struct {
	Environment string            `json:"environment"`
	Path        string            `json:"path"`
	Values      map[string]string `json:"values"`
}

type dynamicSecretState struct {
	Environment string `json:"environment"`
	Path        string `json:"path"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	DefaultTTL  string `json:"default_ttl"`
	MaxTTL      string `json:"max_ttl"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8222", "listen address")
	statePath := flag.String("state", "", "JSON state file (empty: no identities, no projects)")
	flag.Parse()
	if err := run(*addr, *statePath, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(addr, statePath string, out io.Writer) error {
	e := infisicaltest.NewUnstarted(infisicaltest.WithLogf(log.Printf))
	if statePath != "" {
		f, err := os.Open(statePath)
		if err != nil {
			return err
		}
		err = load(e, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", statePath, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "INFISICAL_URL=http://%s\n", ln.Addr())
	srv := &http.Server{Handler: handler(e), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// handler serves the emulator plus its counters.
func handler(e *infisicaltest.Emulator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/counts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.Counts())
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var req faultRequest
		if err := decodeStrict(r.Body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, err := req.fault()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.Inject(infisicaltest.Route(req.Route), f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_emulator/secrets", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ProjectID   string            `json:"project_id"`
			Environment string            `json:"environment"`
			Path        string            `json:"path"`
			Values      map[string]string `json:"values"`
		}
		if err := decodeStrict(r.Body, &req); err != nil || req.ProjectID == "" || req.Environment == "" {
			http.Error(w, "want {project_id, environment, path, values}", http.StatusBadRequest)
			return
		}
		e.SetSecrets(req.ProjectID, req.Environment, orRoot(req.Path), req.Values)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", e)
	return mux
}

// faultRequest is the body of POST /_emulator/faults.
type faultRequest struct {
	Route   string `json:"route"`
	Kind    string `json:"kind"`
	Status  int    `json:"status"`
	DelayMS int    `json:"delay_ms"`
	Times   int    `json:"times"`
	After   int    `json:"after"`
}

func (r faultRequest) fault() (infisicaltest.Fault, error) {
	var f infisicaltest.Fault
	if r.Route == "" {
		return f, errors.New("route is required (\"*\" for every route)")
	}
	switch r.Kind {
	case "status":
		if r.Status < 400 || r.Status > 599 {
			return f, errors.New("status must be 400 to 599")
		}
		f = infisicaltest.Status(r.Status)
	case "html":
		if r.Status < 400 || r.Status > 599 {
			return f, errors.New("status must be 400 to 599")
		}
		f = infisicaltest.HTMLError(r.Status)
	case "token_expired":
		f = infisicaltest.TokenExpired()
	case "non_json":
		f = infisicaltest.NonJSON()
	case "malformed_json":
		f = infisicaltest.MalformedJSON()
	case "delay":
		f = infisicaltest.Delay(time.Duration(r.DelayMS) * time.Millisecond)
	case "hang":
		f = infisicaltest.Hang()
	case "close":
		f = infisicaltest.CloseConnection()
	case "reset":
		f = infisicaltest.ResetConnection()
	case "revoke_failed":
		f = infisicaltest.RevokeFailed("revocation failed (injected)")
	default:
		return f, fmt.Errorf("unknown fault kind %q", r.Kind)
	}
	return f.Times(r.Times).After(r.After), nil
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// load applies a state file to e.
func load(e *infisicaltest.Emulator, r io.Reader) error {
	var s state
	if err := decodeStrict(r, &s); err != nil {
		return err
	}
	e.SetLegacyMissingPath(s.LegacyMissingPath)
	for i, id := range s.Identities {
		if id.ID == "" {
			return fmt.Errorf("identities[%d]: id is required", i)
		}
		ttl, err := duration(id.TTL)
		if err != nil {
			return fmt.Errorf("identities[%d].ttl: %w", i, err)
		}
		maxTTL, err := duration(id.MaxTTL)
		if err != nil {
			return fmt.Errorf("identities[%d].max_ttl: %w", i, err)
		}
		e.AddIdentity(infisicaltest.Identity{ID: id.ID, Universal: id.Universal, Kubernetes: id.Kubernetes, AWS: id.AWS, GCP: id.GCP, LDAP: id.LDAP, TTL: ttl, MaxTTL: maxTTL})
	}
	for i, p := range s.Projects {
		if p.ID == "" {
			return fmt.Errorf("projects[%d]: id is required", i)
		}
		e.AddProject(infisicaltest.Project{ID: p.ID, Slug: p.Slug, Environments: p.Environments})
		for _, fs := range p.Secrets {
			e.SetSecrets(p.ID, fs.Environment, orRoot(fs.Path), fs.Values)
		}
		for j, d := range p.DynamicSecrets {
			def, err := duration(d.DefaultTTL)
			if err != nil {
				return fmt.Errorf("projects[%d].dynamic_secrets[%d].default_ttl: %w", i, j, err)
			}
			max, err := duration(d.MaxTTL)
			if err != nil {
				return fmt.Errorf("projects[%d].dynamic_secrets[%d].max_ttl: %w", i, j, err)
			}
			e.AddDynamicSecret(p.ID, d.Environment, orRoot(d.Path), infisicaltest.DynamicSecret{Name: d.Name, Type: d.Type, DefaultTTL: def, MaxTTL: max})
		}
	}
	return nil
}

func duration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = errors.New("must not be negative")
	}
	return d, err
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
