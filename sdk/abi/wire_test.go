package abi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantOK   string
		wantCode string
		wantMsg  string
		wantErr  string
	}{
		{name: "ok-object", in: `{"ok":{"secrets":{}}}`, wantOK: `{"secrets":{}}`},
		{name: "ok-null", in: `{"ok":null}`, wantOK: `null`},
		{name: "error", in: `{"error":{"code":"external_store_unreachable","message":"down"}}`, wantCode: "external_store_unreachable", wantMsg: "down"},
		{name: "both", in: `{"ok":{},"error":{"code":"x","message":""}}`, wantErr: "envelope has both ok and error"},
		{name: "neither", in: `{}`, wantErr: "envelope has neither ok nor error"},
		{name: "unknown-field", in: `{"ok":{},"extra":1}`, wantErr: `envelope: json: unknown field "extra"`},
		{name: "trailing", in: `{"ok":{}} {}`, wantErr: "envelope: trailing data after JSON value"},
		{name: "bad-code", in: `{"error":{"code":"Bad Code","message":""}}`, wantErr: `envelope error code "Bad Code" must match ^[a-z][a-z0-9_]{0,63}$`},
		{name: "empty", in: ``, wantErr: "envelope: EOF"},
		{name: "not-utf8", in: "{\"ok\":\"\xff\"}", wantErr: "envelope is not valid UTF-8"},
		{name: "long-message-cut", in: `{"error":{"code":"x","message":"` + strings.Repeat("é", 600) + `"}}`, wantCode: "x", wantMsg: strings.Repeat("é", 512)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, gerr, err := DecodeEnvelope([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantCode != "" {
				if gerr == nil || gerr.Code != tc.wantCode || gerr.Message != tc.wantMsg {
					t.Fatalf("guest error = %+v, want %s/%s", gerr, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if string(ok) != tc.wantOK {
				t.Fatalf("ok = %s, want %s", ok, tc.wantOK)
			}
		})
	}
}

func TestDecodeManifest(t *testing.T) {
	valid := `{"kind":"example","abi_version":1,"features":2,"config_schema":{"type":"object"},"env":[{"name":"EXAMPLE_URL","required":true}],"http_origins":["https://api.example.com"],"http_origins_env":"EXAMPLE_URL"}`
	tests := []struct {
		name     string
		in       string
		wantErr  string
		mismatch bool
	}{
		{name: "valid", in: valid},
		{name: "unknown-field", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"oops":1}`, wantErr: `manifest: json: unknown field "oops"`},
		{name: "bad-kind", in: `{"kind":"Bad","abi_version":1,"features":0,"config_schema":{"type":"object"}}`, wantErr: `manifest: kind "Bad" must match ^[a-z][a-z0-9_-]{0,31}$`},
		{name: "abi-2", in: `{"kind":"x","abi_version":2,"features":0,"config_schema":{"type":"object"}}`, wantErr: "ABI version mismatch: host supports 1, plugin declares 2", mismatch: true},
		{name: "no-schema", in: `{"kind":"x","abi_version":1,"features":0}`, wantErr: "manifest: config_schema is required"},
		{name: "schema-not-object", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":[]}`, wantErr: "manifest: config_schema must be a JSON object"},
		{name: "schema-type", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"string"}}`, wantErr: `manifest: config_schema must have "type": "object"`},
		{name: "bad-env", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"env":[{"name":"path"}]}`, wantErr: `manifest: env name "path" must match ^[A-Z][A-Z0-9_]{0,127}$`},
		{name: "dup-env", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"env":[{"name":"A"},{"name":"A"}]}`, wantErr: `manifest: env "A" declared twice`},
		{name: "bad-fallback", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"env":[{"name":"A","fallback":["b"]}]}`, wantErr: `manifest: env A: fallback name "b" must match ^[A-Z][A-Z0-9_]{0,127}$`},
		{name: "fallback-is-a-name", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"env":[{"name":"A","fallback":["B"]},{"name":"B"}]}`, wantErr: `manifest: env A: fallback "B" is declared twice`},
		{name: "fallback-twice", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"env":[{"name":"A","fallback":["C"]},{"name":"B","fallback":["C"]}]}`, wantErr: `manifest: env B: fallback "C" is declared twice`},
		{name: "bad-origin", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"http_origins":["ftp://x"]}`, wantErr: `manifest: http_origins: origin "ftp://x": scheme must be http or https`},
		{name: "undeclared-origins-env", in: `{"kind":"x","abi_version":1,"features":0,"config_schema":{"type":"object"},"http_origins_env":"URL"}`, wantErr: `manifest: http_origins_env "URL" is not declared in env`},
		{name: "too-large", in: `{"kind":"x","description":"` + strings.Repeat("a", MaxManifestBytes) + `"}`, wantErr: "manifest is 65565 bytes; the limit is 65536"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeManifest([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Kind != "example" || !m.Features.Has(FeaturePolls) || m.Features.Has(FeatureWritable) {
					t.Fatalf("decoded %+v", m)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrABIMismatch) != tc.mismatch {
				t.Fatalf("errors.Is(ErrABIMismatch) = %v", !tc.mismatch)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "https://API.example.com", want: "https://api.example.com:443"},
		{in: "http://127.0.0.1:8080/api/", want: "http://127.0.0.1:8080"},
		{in: "http://[::1]", want: "http://[::1]:80"},
		{in: "https://u:p@x.com", wantErr: `origin "https://u:xxxxx@x.com": user info is not allowed`},
		{in: "example.com", wantErr: `origin "example.com": scheme must be http or https`},
		{in: "https://", wantErr: `origin "https:": host is required`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOrigin(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDecodeHTTPRequest(t *testing.T) {
	tests := []struct {
		name, in, wantOrigin, wantErr string
	}{
		{name: "get", in: `{"method":"GET","url":"https://api.example.com/v1/x?y=1","header":{"Authorization":["Bearer t"]}}`, wantOrigin: "https://api.example.com:443"},
		{name: "post-body", in: `{"method":"POST","url":"http://127.0.0.1:9/x","body":"e30="}`, wantOrigin: "http://127.0.0.1:9"},
		{name: "bad-method", in: `{"method":"CONNECT","url":"https://x"}`, wantErr: `method "CONNECT" is not one of GET, HEAD, POST, PUT, PATCH, DELETE`},
		{name: "relative", in: `{"method":"GET","url":"/x"}`, wantErr: "url must be absolute"},
		{name: "file-scheme", in: `{"method":"GET","url":"file:///etc/passwd"}`, wantErr: `origin "file:///etc/passwd": scheme must be http or https`},
		{name: "host-header", in: `{"method":"GET","url":"https://x","header":{"Host":["evil"]}}`, wantErr: `header "Host" is set by the host`},
		{name: "bad-header-name", in: `{"method":"GET","url":"https://x","header":{"a b":["c"]}}`, wantErr: `header name "a b" is not a token`},
		{name: "crlf", in: `{"method":"GET","url":"https://x","header":{"X":["a\r\nB: c"]}}`, wantErr: `header "X" has a control character`},
		{name: "unknown-field", in: `{"method":"GET","url":"https://x","timeout":1}`, wantErr: `request descriptor: json: unknown field "timeout"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, origin, err := DecodeHTTPRequest([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || origin != tc.wantOrigin {
				t.Fatalf("origin %q, err %v; want %q", origin, err, tc.wantOrigin)
			}
		})
	}
}

func TestCheckRange(t *testing.T) {
	tests := []struct {
		name             string
		ptr, length, mem uint32
		wantErr          string
	}{
		{name: "inside", ptr: 16, length: 16, mem: 32},
		{name: "empty-at-end", ptr: 32, length: 0, mem: 32},
		{name: "past-end", ptr: 16, length: 17, mem: 32, wantErr: "range [16, 33) is outside memory of 32 bytes"},
		{name: "overflow", ptr: 0xffffffff, length: 0xffffffff, mem: 65536, wantErr: "range [4294967295, 8589934590) is outside memory of 65536 bytes"},
		{name: "null", ptr: 0, length: 1, mem: 32, wantErr: "non-empty range at null pointer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRange(tc.ptr, tc.length, tc.mem)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("err = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestPack(t *testing.T) {
	// ABI.md's worked example: ptr 1024 (0x400), len 37 (0x25).
	if got := Pack(1024, 37); got != 0x0000040000000025 {
		t.Fatalf("Pack = %#x", got)
	}
	if p, l := Unpack(0x0000040000000025); p != 1024 || l != 37 {
		t.Fatalf("Unpack = %d, %d", p, l)
	}
}

// TestWireGolden pins the JSON shapes that cross the boundary.
func TestWireGolden(t *testing.T) {
	ok, err := EncodeOK(SyncResult{Secrets: map[string]string{"API_KEY": "v1", "DB_URL": "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	lease, _ := EncodeOK(Lease{LeaseID: "l-1", Values: map[string]string{"USER": "u", "PASSWORD": "p"}, TTLSeconds: 300, Renewable: true})
	req, _ := json.Marshal(Request{Config: json.RawMessage(`{"project_id":"p"}`), Env: map[string]string{"INFISICAL_URL": "https://app.infisical.com"}, DeadlineUnixNano: 1700000000000000000, Name: "db"})
	httpReq, _ := json.Marshal(HTTPRequest{Method: "GET", URL: "https://api.example.com/v1/secrets", Header: map[string][]string{"Authorization": {"Bearer token"}}})
	httpResp, _ := EncodeOK(HTTPResponse{Status: 200, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"A":"b"}`)})
	man, _ := json.Marshal(Manifest{Kind: "example", ABIVersion: Version, Features: FeaturePolls, ConfigSchema: json.RawMessage(`{"type":"object"}`), Env: []EnvVar{{Name: "EXAMPLE_URL", Required: true}}, HTTPOriginsEnv: "EXAMPLE_URL"})
	var b strings.Builder
	for _, line := range [][]byte{ok, EncodeError(CodeUnreachable, "GET https://api.example.com: connection refused"), lease, req, httpReq, httpResp, man} {
		b.Write(line)
		b.WriteByte('\n')
	}
	golden.Check(t, "wire", []byte(b.String()))
}
