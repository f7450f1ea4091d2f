package openapi

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strings"
)

//go:embed openapi.json
var document []byte

// Operation is one operation of the HTTP API, as openapi.json lists it.
type Operation struct {
	ID     string // operationId, kebab-case: "rotate-agent"
	Method string // upper case: "POST"
	Path   string // "/v1/agents/{name}/rotate"
}

// GoName is the generated Go client's method name: "RotateAgent".
func (o Operation) GoName() string {
	var b strings.Builder
	for part := range strings.SplitSeq(o.ID, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Operations lists every operation of openapi.json, sorted by path and
// method. The tests that keep the Go client, the CLI and the UI covering
// the whole API walk it.
func Operations() ([]Operation, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		return nil, err
	}
	var out []Operation
	for path, ops := range doc.Paths {
		for verb, op := range ops {
			out = append(out, Operation{ID: op.OperationID, Method: strings.ToUpper(verb), Path: path})
		}
	}
	slices.SortFunc(out, func(a, b Operation) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return out, nil
}
