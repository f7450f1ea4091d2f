package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Summary is what an audited action changed, by name: each field's value
// before and after, the credential keys it named, the MACs of the values it
// set. It never holds a credential value, a token, or a password or its
// hash: a secret that changed is a Withheld change, with neither value.
// Every audited operation builds its summary with this one type, so the
// API, the CLI, the exports and the UI read one shape.
type Summary struct {
	Changes []ChangedField `json:"changes,omitempty" doc:"Fields the action created, changed or removed"`
	// Keys are the credential key names the action set, deleted or used.
	Keys []string `json:"keys,omitempty" doc:"Credential key names the action named"`
	// ValueMACs are, per key set, an HMAC of its value under the
	// instance's audit key (see host/api): equal MACs, equal values.
	ValueMACs map[string]string `json:"value_macs,omitempty" doc:"Per key set: an HMAC of its value under an instance key, to tell whether two entries set the same value"`
	// Note says what the action did when no field shows it (entries
	// pruned, a sync run).
	Note string `json:"note,omitempty" doc:"What the action did, in words, when no field shows it"`
}

// ChangedField is one field's value before and after the action. A field the
// action created has no Before; one it removed has no After. Values are
// names, roles, numbers, flags or lists of them. Field names a thing's
// attribute ("role"), qualified with dots where an action touches several
// things ("services.github.hosts", "vaults.prod").
type ChangedField struct {
	Field    string `json:"field"`
	Before   any    `json:"before,omitempty"`
	After    any    `json:"after,omitempty"`
	Withheld bool   `json:"withheld,omitempty" doc:"A secret (a password) changed; neither value is recorded"`
}

// Set records field going from before to after, when they differ. Nil
// means the field did not exist.
func (s *Summary) Set(field string, before, after any) {
	b, a := normalize(before), normalize(after)
	if reflect.DeepEqual(b, a) {
		return
	}
	s.Changes = append(s.Changes, ChangedField{Field: field, Before: b, After: a})
}

// Secret records that a secret field changed without recording a value.
func (s *Summary) Secret(field string) {
	s.Changes = append(s.Changes, ChangedField{Field: field, Withheld: true})
}

// Diff records every field that differs between before and after, two
// views of one thing: structs (or pointers to structs, nil meaning the
// thing did not exist) whose json tags name the fields. Each field is
// recorded as prefix.name (name alone when prefix is empty), in the
// struct's field order. The view types say what may be recorded, so a
// value is kept out of a summary by leaving it out of the view.
func (s *Summary) Diff(prefix string, before, after any) {
	bf, order := fields(before)
	af, order2 := fields(after)
	for _, name := range order2 {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, name := range order {
		field := name
		if prefix != "" {
			field = prefix + "." + name
		}
		s.Set(field, bf[name], af[name])
	}
}

// IsZero reports whether the summary says nothing.
func (s Summary) IsZero() bool {
	return len(s.Changes) == 0 && len(s.Keys) == 0 && len(s.ValueMACs) == 0 && s.Note == ""
}

// Encode is the summary as Entry.Summary holds it: compact JSON in a fixed
// order, nil when there is nothing to say.
func (s Summary) Encode() json.RawMessage {
	if s.IsZero() {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return json.RawMessage(`{"note":"summary not encodable"}`)
	}
	return b
}

// DecodeSummary reads an entry's summary. Entries recorded before the
// trail used Summary hold other shapes; ok is false for those (and for
// none), and callers show the raw JSON.
func DecodeSummary(raw json.RawMessage) (s Summary, ok bool) {
	if len(raw) == 0 {
		return s, false
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil || s.IsZero() {
		return Summary{}, false
	}
	return s, true
}

// String is the summary in one line for people: "role: member → admin;
// vaults.prod: (none) → admin; password: changed (withheld); keys: A, B".
func (s Summary) String() string {
	var parts []string
	for _, c := range s.Changes {
		switch {
		case c.Withheld:
			parts = append(parts, c.Field+": changed (withheld)")
		case c.Before == nil:
			parts = append(parts, c.Field+": (none) → "+show(c.After))
		case c.After == nil:
			parts = append(parts, c.Field+": "+show(c.Before)+" → (none)")
		default:
			parts = append(parts, c.Field+": "+show(c.Before)+" → "+show(c.After))
		}
	}
	if len(s.Keys) > 0 {
		parts = append(parts, "keys: "+strings.Join(s.Keys, ", "))
	}
	if len(s.ValueMACs) > 0 {
		parts = append(parts, fmt.Sprintf("value MACs: %d", len(s.ValueMACs)))
	}
	if s.Note != "" {
		parts = append(parts, s.Note)
	}
	return strings.Join(parts, "; ")
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = show(x)
		}
		return "[" + strings.Join(s, ", ") + "]"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// normalize turns a value into what it decodes to from JSON (strings,
// json.Number, bools, []any, map[string]any), so a summary compares and
// prints the same before and after a round trip. Nil stays nil.
func normalize(v any) any {
	if v == nil {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(not encodable: %T)", v)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	d.Decode(&out)
	return out
}

// fields flattens a view into its JSON fields and their order.
func fields(view any) (map[string]any, []string) {
	m, _ := normalize(view).(map[string]any)
	if m == nil {
		return nil, nil
	}
	// The struct's field order, not the map's: walk the type's json tags.
	var order []string
	t := reflect.TypeOf(view)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if _, ok := m[name]; ok && !slices.Contains(order, name) {
				order = append(order, name)
			}
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return m, append(order, rest...)
}
