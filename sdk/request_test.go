package sdk

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// requestSeeds are what the host sends (json.Marshal of abi.Request) plus
// inputs the fast path must hand to encoding/json.
var requestSeeds = []string{
	`{}`,
	`{"secrets":{"API_KEY":"value"},"deadline_unix_nano":1900000000000000000}`,
	`{"config":{"project":"p","nested":{"a":[1,{"b":"}"}]},"s":"q\"}"},"env":{"TOKEN":"t","EMPTY":""},"deadline_unix_nano":1}`,
	`{"name":"db","lease_id":"l-1","env":{}}`,
	`{"secrets":{"A":"1","A":"2"}}`,
	`{"secrets":{"A":"caf\u00e9"}}`,
	`{"secrets":{"A":"café"}}`,
	`{"config":null}`,
	`{"config":[1]}`,
	`{"config":{"a":}}`,
	`{"CONFIG":{}}`,
	`{"name":"a","name":"b"}`,
	`{"deadline_unix_nano":-0}`,
	`{"deadline_unix_nano":01}`,
	`{"deadline_unix_nano":1.5}`,
	`{"deadline_unix_nano":9223372036854775807}`,
	`{"deadline_unix_nano":9223372036854775808}`,
	`{"unknown":"x"}`,
	`{"name":"a"} `,
	` {"name":"a"}`,
	`{"name":"a"}x`,
	`{"name":"a",}`,
	`{"name":"tab	"}`,
	`{"env":{"A":1}}`,
	`{"env":null}`,
	`[]`,
	``,
}

// TestDecodeRequest checks which inputs take the fast path and that every
// input decodes exactly as json.Unmarshal decodes it.
func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fast bool
		want abi.Request
	}{
		{name: "empty", in: `{}`, fast: true},
		{name: "validate-write", in: `{"secrets":{"API_KEY":"value"},"deadline_unix_nano":1900000000000000000}`, fast: true,
			want: abi.Request{Secrets: map[string]string{"API_KEY": "value"}, DeadlineUnixNano: 1900000000000000000}},
		{name: "config-and-env", in: `{"config":{"p":"}{","n":[{}]},"env":{"T":"t"}}`, fast: true,
			want: abi.Request{Config: json.RawMessage(`{"p":"}{","n":[{}]}`), Env: map[string]string{"T": "t"}}},
		{name: "empty-map-not-nil", in: `{"env":{}}`, fast: true, want: abi.Request{Env: map[string]string{}}},
		{name: "lease", in: `{"name":"db","lease_id":"l1"}`, fast: true, want: abi.Request{Name: "db", LeaseID: "l1"}},
		{name: "escape-falls-back", in: `{"name":"a\u0062"}`, want: abi.Request{Name: "ab"}},
		{name: "non-ascii-falls-back", in: `{"name":"é"}`, want: abi.Request{Name: "é"}},
		{name: "case-insensitive-key-falls-back", in: `{"NAME":"a"}`, want: abi.Request{Name: "a"}},
		{name: "repeated-key-falls-back", in: `{"name":"a","name":"b"}`, want: abi.Request{Name: "b"}},
		{name: "whitespace-falls-back", in: `{ "name": "a" }`, want: abi.Request{Name: "a"}},
		{name: "null-config-falls-back", in: `{"config":null}`, want: abi.Request{Config: json.RawMessage(`null`)}},
		{name: "huge-number-falls-back", in: `{"deadline_unix_nano":9223372036854775807}`, want: abi.Request{DeadlineUnixNano: 9223372036854775807}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r abi.Request
			if got := fastRequest([]byte(tc.in), &r); got != tc.fast {
				t.Errorf("fast path = %v, want %v", got, tc.fast)
			}
			var got abi.Request
			if err := decodeRequest([]byte(tc.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeRequest_errors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{name: "trailing", in: `{"name":"a"}x`, wantErr: "invalid character 'x' after top-level value"},
		{name: "bad-config", in: `{"config":{"a":}}`, wantErr: "invalid character '}' looking for beginning of value"},
		{name: "float-deadline", in: `{"deadline_unix_nano":1.5}`, wantErr: "json: cannot unmarshal number 1.5 into Go struct field Request.deadline_unix_nano of type int64"},
		{name: "not-object", in: `[]`, wantErr: "json: cannot unmarshal array into Go value of type abi.Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r abi.Request
			err := decodeRequest([]byte(tc.in), &r)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzDecodeRequest: decodeRequest agrees with json.Unmarshal on every
// input (value and error), and the fast path never accepts what
// encoding/json rejects.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want abi.Request
		werr := json.Unmarshal(data, &want)
		var got abi.Request
		gerr := decodeRequest(data, &got)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%q: err = %v, json.Unmarshal: %v", data, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, json.Unmarshal: %+v", data, got, want)
		}
		var r abi.Request
		if fastRequest(data, &r) && werr != nil {
			t.Fatalf("%q: fast path accepted input json.Unmarshal rejects: %v", data, werr)
		}
	})
}
