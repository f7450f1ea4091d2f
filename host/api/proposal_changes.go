package api

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// An approved proposal applies its services by name and its credentials by
// key, so a "set" for a name that exists replaces that service (its host
// included: the credential follows the new host) and a "set" for a key
// that exists overwrites the stored value. Such a proposal says so in its
// view (changes), and its approval names every replacement it accepts
// (confirm_changes); without that it is refused with
// proposal_change_unconfirmed and nothing changes.

// ProposalChange is one thing that exists in the vault which the proposal
// would replace, overwrite or delete.
type ProposalChange struct {
	Target  string        `json:"target" enum:"service,credential"`
	Name    string        `json:"name" doc:"The service name or credential key"`
	Action  string        `json:"action" enum:"replace,overwrite,delete" doc:"replace: an existing service gets new settings; overwrite: an existing credential gets a new value; delete: it is removed"`
	Fields  []FieldChange `json:"fields" doc:"Every field that differs, before and after (credential values are never shown)"`
	Confirm string        `json:"confirm,omitempty" doc:"When set, approving needs this string in confirm_changes: the approver accepts this replacement explicitly"`
}

// FieldChange is one field of a service (dotted path, e.g. auth.token) before
// and after; empty when absent.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// vaultBasis is what a proposal's changes are measured against.
type vaultBasis struct {
	services map[string]domain.Service
	static   map[string]bool
}

func (s *server) vaultBasis(ctx context.Context, vaultID string) (*vaultBasis, error) {
	svcs, err := s.services(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	static, err := s.staticKeys(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	b := &vaultBasis{services: make(map[string]domain.Service, len(svcs)), static: static}
	for _, svc := range svcs {
		b.services[svc.Name] = svc
	}
	return b, nil
}

// changes lists what spec would replace, overwrite or delete in the vault
// as it is now, services first, each in the proposal's order.
func (b *vaultBasis) changes(spec proposalSpec) []ProposalChange {
	out := []ProposalChange{}
	for _, ps := range spec.Services {
		old, ok := b.services[ps.Name]
		if !ok {
			continue
		}
		if ps.Action == "delete" {
			out = append(out, ProposalChange{Target: "service", Name: ps.Name, Action: "delete", Fields: diffFields(serviceFields(old), nil)})
			continue
		}
		if fields := diffFields(serviceFields(old), serviceFields(ps.service())); len(fields) > 0 {
			out = append(out, ProposalChange{Target: "service", Name: ps.Name, Action: "replace", Fields: fields, Confirm: "service:" + ps.Name})
		}
	}
	for _, cr := range spec.Credentials {
		if !b.static[cr.Key] {
			continue
		}
		if cr.Action == "delete" {
			out = append(out, ProposalChange{Target: "credential", Name: cr.Key, Action: "delete", Fields: []FieldChange{{Field: "value", Before: "(stored)", After: ""}}})
			continue
		}
		out = append(out, ProposalChange{Target: "credential", Name: cr.Key, Action: "overwrite",
			Fields: []FieldChange{{Field: "value", Before: "(stored)", After: "(replaced)"}}, Confirm: "credential:" + cr.Key})
	}
	return out
}

// unconfirmed returns the confirmations changes need that confirmed lacks.
func unconfirmed(changes []ProposalChange, confirmed []string) []string {
	have := map[string]bool{}
	for _, c := range confirmed {
		have[c] = true
	}
	var missing []string
	for _, ch := range changes {
		if ch.Confirm != "" && !have[ch.Confirm] {
			missing = append(missing, ch.Confirm)
		}
	}
	return missing
}

// unconfirmedError explains what the approver must confirm, naming each
// replacement with its host change.
func unconfirmedError(changes []ProposalChange, missing []string) error {
	need := map[string]bool{}
	for _, m := range missing {
		need[m] = true
	}
	var parts []string
	for _, ch := range changes {
		if !need[ch.Confirm] {
			continue
		}
		desc := ch.Confirm
		for _, f := range ch.Fields {
			if f.Field == "host" {
				desc += fmt.Sprintf(" (host %q -> %q)", f.Before, f.After)
			}
		}
		if ch.Target == "credential" {
			desc += " (overwrites the stored value)"
		}
		parts = append(parts, desc)
	}
	return domain.FieldError(domain.CodeProposalChangeUnconfirmed, "confirm_changes",
		"this proposal replaces what the vault already holds: %s; approve again listing each in confirm_changes (CLI: --confirm %s)",
		strings.Join(parts, ", "), strings.Join(missing, " --confirm "))
}

// serviceFields flattens a service into dotted fields ("auth.token",
// "substitutions[0].in[1]"), enabled made explicit so that "absent" and
// "true" compare equal.
func serviceFields(svc domain.Service) map[string]string {
	on := svc.IsEnabled()
	svc.Enabled, svc.Name = &on, ""
	b, _ := json.Marshal(svc)
	var v any
	json.Unmarshal(b, &v) //nolint:errcheck // just marshalled
	out := map[string]string{}
	flatten("", v, out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case string:
		if x != "" {
			out[prefix] = x
		}
	case nil:
	default:
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	}
}

// diffFields lists the fields whose value differs, sorted by name, host first.
func diffFields(before, after map[string]string) []FieldChange {
	names := map[string]bool{}
	for k := range before {
		names[k] = true
	}
	for k := range after {
		names[k] = true
	}
	out := []FieldChange{}
	for k := range names {
		if before[k] != after[k] {
			out = append(out, FieldChange{Field: k, Before: before[k], After: after[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Field == "host") != (out[j].Field == "host") {
			return out[i].Field == "host"
		}
		return out[i].Field < out[j].Field
	})
	return out
}
