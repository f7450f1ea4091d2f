package sdk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/abi"
)

// requestSeeds are what the host sends (json.Marshal of abi.Request) plus
// inputs only a hand-written request could hold.
var requestSeeds = []string{
	`{}`,
	`{"secrets":{"API_KEY":"value"},"deadline_unix_nano":1900000000000000000}`,
	`{"config":{"project":"p","nested":{"a":[1,{"b":"}"}]},"s":"q\"}"},"env":{"TOKEN":"t","EMPTY":""},"deadline_unix_nano":1}`,
	`{"name":"db","lease_id":"l-1","env":{}}`,
	`{"secrets":{"A":"1","A":"2"}}`,
	`{"secrets":{"A":"caf\u00e9"}}`,
	`{"secrets":{"A":"café","B":"line\nbreak"}}`,
	`{"config":null}`,
	`{"config":[1]}`,
	`{"config":{"a":}}`,
	`{"CONFIG":{}}`,
	`{"name":"a","name":"b"}`,
	`{"env":{"A":"1"},"Env":{"B":"2"}}`,
	`{"env":{"A":null}}`,
	`{"deadline_unix_nano":-0}`,
	`{"deadline_unix_nano":01}`,
	`{"deadline_unix_nano":1.5}`,
	`{"deadline_unix_nano":9223372036854775807}`,
	`{"deadline_unix_nano":9223372036854775808}`,
	`{"deadline_unix_nano":null,"name":null}`,
	`{"unknown":"x"}`,
	`{"name":"a"} `,
	` {"name":"a"}`,
	`{"name":"a"}x`,
	`{"name":"a",}`,
	`{"name":"tab	"}`,
	`{"env":{"A":1}}`,
	`{"env":null}`,
	"{\"secrets\":{\"\xff\":\"\xfe\"}}",
	`null`,
	`[]`,
	``,
}

// TestDecodeRequest checks which inputs take the fast path and what every
// input decodes to.
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
		{name: "escape", in: `{"name":"a\u0062","secrets":{"PEM":"-----BEGIN-----\nx\n"}}`, want: abi.Request{Name: "ab", Secrets: map[string]string{"PEM": "-----BEGIN-----\nx\n"}}},
		{name: "non-ascii", in: `{"name":"é"}`, want: abi.Request{Name: "é"}},
		{name: "case-insensitive-key", in: `{"NAME":"a"}`, want: abi.Request{Name: "a"}},
		{name: "repeated-key", in: `{"name":"a","name":"b"}`, want: abi.Request{Name: "b"}},
		{name: "repeated-map", in: `{"env":{"A":"1"},"env":{"B":"2"}}`, want: abi.Request{Env: map[string]string{"A": "1", "B": "2"}}},
		{name: "whitespace", in: ` { "name" : "a" } `, want: abi.Request{Name: "a"}},
		{name: "null-config", in: `{"config":null}`, want: abi.Request{Config: json.RawMessage(`null`)}},
		{name: "null", in: `null`},
		{name: "huge-number", in: `{"deadline_unix_nano":9223372036854775807}`, want: abi.Request{DeadlineUnixNano: 9223372036854775807}},
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
		{name: "trailing", in: `{"name":"a"}x`, wantErr: "invalid JSON at byte 12: trailing data"},
		{name: "bad-config", in: `{"config":{"a":}}`, wantErr: "invalid JSON at byte 15: want a value"},
		{name: "float-deadline", in: `{"deadline_unix_nano":1.5}`, wantErr: "invalid JSON at byte 22: want an integer, not 1.5"},
		{name: "not-object", in: `[]`, wantErr: "invalid JSON at byte 0: want '{'"},
		{name: "wrong-type", in: `{"env":{"A":1}}`, wantErr: "invalid JSON at byte 12: want a string"},
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

// FuzzDecodeRequest: decodeRequest, and its slow path alone, accept
// exactly what json.Unmarshal accepts and give the same request; the fast
// path never accepts what encoding/json rejects.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want abi.Request
		werr := json.Unmarshal(data, &want)
		var got abi.Request
		gerr := decodeRequest(data, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: err = %v, json.Unmarshal: %v", data, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, json.Unmarshal: %+v", data, got, want)
		}
		var slow abi.Request
		serr := decodeRequestSlow(data, &slow)
		if (werr == nil) != (serr == nil) || werr == nil && !reflect.DeepEqual(slow, want) {
			t.Fatalf("%q: slow path %+v, %v; json.Unmarshal: %+v, %v", data, slow, serr, want, werr)
		}
		var r abi.Request
		if fastRequest(data, &r) && werr != nil {
			t.Fatalf("%q: fast path accepted input json.Unmarshal rejects: %v", data, werr)
		}
	})
}

func TestDecodeRequest_seeds(t *testing.T) {
	for _, s := range requestSeeds {
		var want, got abi.Request
		werr := json.Unmarshal([]byte(s), &want)
		gerr := decodeRequest([]byte(s), &got)
		if (werr == nil) != (gerr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, %v; json.Unmarshal %+v, %v", s, got, gerr, want, werr)
		}
	}
}

// encodeCases are values whose encoding must be json.Marshal's.
var encodeCases = []any{
	abi.Empty{},
	abi.SyncResult{Secrets: map[string]string{}},
	abi.SyncResult{Secrets: map[string]string{"B": "<b> & \u2028", "A": "line\nbreak\x00\xff"}},
	abi.CheckResult{Summary: `logged in to "https://x" with universal-auth`},
	abi.DynamicListResult{Secrets: []abi.DynamicSecret{}},
	abi.DynamicListResult{Secrets: nil},
	abi.DynamicListResult{Secrets: []abi.DynamicSecret{{Name: "db"}, {Name: "mq", Description: "rabbit", Fields: []string{"U", "P"}, TTLSeconds: 30, Renewable: true}, {Name: "x", Fields: []string{}}}},
	abi.Lease{LeaseID: "l-1", TTLSeconds: 60},
	abi.Lease{LeaseID: "l-2", Values: map[string]string{}, TTLSeconds: -1, Renewable: true},
	abi.Lease{LeaseID: "l-3", Values: map[string]string{"DB_USER": "u", "DB_PASS": "p<>"}, TTLSeconds: 3600},
}

func TestAppendResult(t *testing.T) {
	for _, v := range encodeCases {
		want, err := abi.EncodeOK(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := okEnvelope(appendResult(nil, v)); string(got) != string(want) {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want)
		}
	}
}

func TestAppendManifest(t *testing.T) {
	for _, m := range []abi.Manifest{
		{Kind: "min", ABIVersion: 1},
		{Kind: "fake", ABIVersion: 1, Version: "1.2.3", Description: "a <test> & more", Features: 15,
			ConfigSchema: json.RawMessage("{\n  \"type\": \"object\",\n  \"pattern\": \"^\\\\s*/\"\n}"),
			Env:          []abi.EnvVar{{Name: "A", Required: true, Description: "d"}, {Name: "B", Default: "/var/x", File: true}, {Name: "C", Fallback: []string{"D", "E"}}},
			HTTPOrigins:  []string{"https://a", "http://b:8080"}, HTTPOriginsEnv: "A"},
		{Kind: "empty-slices", ABIVersion: 1, ConfigSchema: json.RawMessage(`{}`), Env: []abi.EnvVar{}, HTTPOrigins: []string{}},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendManifest(nil, m)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s:\n got %s, %v\nwant %s", m.Kind, got, err, want)
		}
	}
	if _, err := appendManifest(nil, abi.Manifest{Kind: "bad", ConfigSchema: json.RawMessage(`{`)}); err == nil {
		t.Error("a config schema that is not JSON encoded")
	}
}

func TestAppendHTTPRequest(t *testing.T) {
	for _, r := range []abi.HTTPRequest{
		{Method: "GET", URL: "https://x/a?b=<c>&d", RawBody: true},
		{Method: "POST", URL: "https://x", Header: map[string][]string{"User-Agent": {"a"}, "Accept": {"x", "y"}, "X-Nil": nil, "Bad \"<name>\"": {"v"}}, Body: []byte("{\"k\":\"\xff\"}")},
		{Method: "PUT", URL: "https://x", Header: map[string][]string{}, Body: []byte{}},
	} {
		want, _ := json.Marshal(r)
		if got := appendHTTPRequest(nil, r); string(got) != string(want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	}
}

func TestEncodeError(t *testing.T) {
	for _, msg := range []string{"", "plain", `quote " and <html> & \u2028` + "\n\x01\xff", strings.Repeat("é", 600)} {
		want, _ := json.Marshal(abi.Envelope{Error: &abi.Error{Code: "c", Message: abi.Truncate(msg, abi.MaxMessageBytes)}})
		if got := abi.EncodeError("c", msg); string(got) != string(want) {
			t.Errorf("EncodeError(%q):\n got %s\nwant %s", msg, got, want)
		}
	}
}

// viaEncodingJSON is how the guest decoded the http_response envelope
// before it stopped linking encoding/json.
func viaEncodingJSON(env []byte) (*abi.HTTPResponse, error) {
	ok, herr, err := abi.DecodeEnvelope(env)
	if err != nil {
		return nil, err
	}
	if herr != nil {
		return nil, &HTTPError{Code: herr.Code, Message: herr.Message}
	}
	var r abi.HTTPResponse
	if err := json.Unmarshal(ok, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

var envelopeSeeds = []string{
	`{"ok":{"status":200,"header":{"Content-Type":["application/json"],"X":null,"Y":[null,"a"]},"body_len":3}}`,
	`{"ok":{"status":204,"body":"YWJj","extra":[1]}}`,
	`{"ok":null}`, `{"ok":5}`, `{"OK":{"Status":201}}`, `{"ok":{"status":1.5}}`, `{"ok":{"body":"!!"}}`,
	`{"error":{"code":"http_timeout","message":"too slow"}}`, `{"error":{"code":"Bad Code","message":""}}`,
	`{"error":{"code":"x","message":"m","more":1}}`, `{"error":null,"ok":{}}`, `{"error":{"code":"x"},"ok":{}}`,
	`{"ok":{},"extra":1}`, `{"ok":{}} {}`, `{}`, `[]`, "{\"ok\":\"\xff\"}", `{"ok":{"status":1},"ok":{"status":2}}`,
	`{"error":{"code":"a"},"error":{"message":"b"}}`,
}

// FuzzDecodeHTTPEnvelope: the guest's decoder accepts what abi.DecodeEnvelope
// and json.Unmarshal accept, with the same result.
func FuzzDecodeHTTPEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, env []byte) { compareEnvelope(t, env) })
}

func TestDecodeHTTPEnvelope_seeds(t *testing.T) {
	for _, s := range envelopeSeeds {
		compareEnvelope(t, []byte(s))
	}
}

func compareEnvelope(t *testing.T, env []byte) {
	t.Helper()
	want, werr := viaEncodingJSON(env)
	got, gerr := decodeHTTPEnvelope(env)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: error %v, via encoding/json %v", env, gerr, werr)
	}
	if werr != nil {
		if wh, ok := werr.(*HTTPError); ok && (gerr.(*HTTPError).Code != wh.Code || gerr.(*HTTPError).Message != wh.Message) {
			t.Fatalf("%q: host error %v, via encoding/json %v", env, gerr, werr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %+v, via encoding/json %+v", env, got, want)
	}
}

func TestDecodeStringConfig(t *testing.T) {
	tests := []struct {
		name, raw string
		wantA     string
		wantB     string
		wantErr   string
		noFields  bool
	}{
		{name: "ok", raw: `{"a":"x","b":"y"}`, wantA: "x", wantB: "y"},
		{name: "empty", raw: ``},
		{name: "null", raw: `null`},
		{name: "null-field", raw: `{"a":null}`},
		{name: "case-insensitive", raw: ` { "A" : "x" } `, wantA: "x"},
		{name: "repeated", raw: `{"a":"x","a":"z"}`, wantA: "z"},
		{name: "unknown", raw: `{"a":"x","c":1}`, wantErr: `invalid_store_config: config: unknown field "c"`},
		{name: "no-fields", raw: `{"a":"x"}`, noFields: true, wantErr: `invalid_store_config: config: unknown field "a"`},
		{name: "no-fields-empty", raw: `{}`, noFields: true},
		{name: "not-object", raw: `[]`, wantErr: "invalid_store_config: config: must be a JSON object"},
		{name: "not-string", raw: `{"b":1}`, wantErr: "invalid_store_config: config: b must be a string"},
		{name: "trailing", raw: `{} {}`, wantErr: "invalid_store_config: config: invalid JSON at byte 3: trailing data"},
		{name: "broken", raw: `{"a":`, wantErr: "invalid_store_config: config: invalid JSON at byte 5: unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a, b string
			fields := map[string]*string{"a": &a, "b": &b}
			if tc.noFields {
				fields = nil
			}
			err := DecodeStringConfig(json.RawMessage(tc.raw), fields)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr || err == nil && (a != tc.wantA || b != tc.wantB) {
				t.Fatalf("got %q %q, %q; want %q %q, %q", a, b, got, tc.wantA, tc.wantB, tc.wantErr)
			}
		})
	}
}

// FuzzDecodeStringConfig: DecodeStringConfig accepts what DecodeConfig
// accepts for a struct of string fields (one JSON value), with the same
// result, and nothing it refuses.
func FuzzDecodeStringConfig(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":"y"}`, ``, `null`, `{"A":"x","a":null}`, `{"c":1}`, `[]`, `{"b":1}`, `{} {}`, `{"a":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var want struct{ A, B string }
		werr := DecodeConfig(json.RawMessage(raw), &want)
		var a, b string
		gerr := DecodeStringConfig(json.RawMessage(raw), map[string]*string{"a": &a, "b": &b})
		if gerr == nil && (werr != nil || a != want.A || b != want.B) {
			t.Fatalf("%q: accepted %q %q; DecodeConfig %+v, %v", raw, a, b, want, werr)
		}
		if werr == nil && gerr != nil && (raw == "" || json.Valid([]byte(raw))) {
			t.Fatalf("%q: refused (%v); DecodeConfig accepts %+v", raw, gerr, want)
		}
	})
}
