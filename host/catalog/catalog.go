// Package catalog is the built-in service catalog: common APIs with the
// host pattern and auth shape a service for them needs, kept as data
// (services.json) so adding an API is a data change checked by a test.
// An entry's service is a template: its credential keys are suggestions
// (GITHUB_TOKEN) the user may rename to keys their vault already has.
package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agent-vault/agent-vault/host/domain"
)

//go:embed services.json
var servicesJSON []byte

// Credential is one credential key an entry's service references.
type Credential struct {
	Key         string `json:"key"` // the suggested key the service references
	Description string `json:"description"`
	Obtain      string `json:"obtain,omitempty"` // where to create or find it
}

// Entry is one API of the catalog.
type Entry struct {
	ID          string `json:"id"`   // also the suggested service name
	Name        string `json:"name"` // display name
	Description string `json:"description"`
	Docs        string `json:"docs"` // the API's documentation
	// Service is the service to create, referencing Credentials' keys.
	Service     domain.Service `json:"service"`
	Credentials []Credential   `json:"credentials"`
}

type file struct {
	Services []Entry `json:"services"`
}

var load = sync.OnceValues(func() ([]Entry, error) { return parse(servicesJSON) })

// parse decodes a catalog strictly.
func parse(b []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("service catalog: %w", err)
	}
	return f.Services, nil
}

// All returns the catalog in its order (a copy the caller may change).
func All() []Entry {
	list, err := load()
	if err != nil {
		panic(err) // the embedded file is checked by TestCatalogShape
	}
	out := make([]Entry, len(list))
	for i, e := range list {
		out[i] = e.clone()
	}
	return out
}

// Get returns the entry with id.
func Get(id string) (Entry, bool) {
	for _, e := range All() {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// MatchHost returns the entry whose host pattern covers host (any port,
// any path): an exact host beats a wildcard, then catalog order.
func MatchHost(host string) (Entry, bool) {
	host = strings.ToLower(host)
	var best Entry
	found, bestExact := false, false
	for _, e := range All() {
		p, err := domain.ParseHostPattern(e.Service.Host)
		if err != nil {
			continue
		}
		p.Port, p.Path, p.Prefix = "", "", false
		if !p.Matches(host, "", "") {
			continue
		}
		if !found || (!p.Wildcard && !bestExact) {
			best, found, bestExact = e, true, !p.Wildcard
		}
	}
	return best, found
}

// clone copies the entry's slices and maps, so callers cannot change the
// catalog.
func (e Entry) clone() Entry {
	e.Credentials = slices.Clone(e.Credentials)
	e.Service.Substitutions = slices.Clone(e.Service.Substitutions)
	for i := range e.Service.Substitutions {
		e.Service.Substitutions[i].In = slices.Clone(e.Service.Substitutions[i].In)
	}
	if e.Service.Auth.Headers != nil {
		h := make(map[string]string, len(e.Service.Auth.Headers))
		for k, v := range e.Service.Auth.Headers {
			h[k] = v
		}
		e.Service.Auth.Headers = h
	}
	return e
}
