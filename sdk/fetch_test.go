package sdkhttp

import (
	"bytes"
	"testing"
)

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name     string
		env, raw string
		wantBody string
		wantErr  string
	}{
		{name: "raw", env: `{"ok":{"status":200,"body_len":3}}`, raw: "abc", wantBody: "abc"},
		{name: "inline", env: `{"ok":{"status":200,"body":"YWJj"}}`, wantBody: "abc"},
		{name: "empty", env: `{"ok":{"status":204}}`},
		{name: "short-raw", env: `{"ok":{"status":200,"body_len":4}}`, raw: "abc",
			wantErr: "http_failed: host response: body_len 4, but 3 raw bytes"},
		{name: "unannounced-raw", env: `{"ok":{"status":200}}`, raw: "abc",
			wantErr: "http_failed: host response: body_len 0, but 3 raw bytes"},
		{name: "both", env: `{"ok":{"status":200,"body":"YWJj","body_len":3}}`, raw: "abc",
			wantErr: "http_failed: host response: body both inline and raw"},
		{name: "host-error", env: `{"error":{"code":"http_timeout","message":"too slow"}}`,
			wantErr: "http_timeout: too slow"},
		{name: "not-json", env: `{`,
			wantErr: "http_failed: host response: envelope: unexpected EOF"},
		{name: "bad-ok", env: `{"ok":{"status":"x"}}`,
			wantErr: "http_failed: host response: json: cannot unmarshal string into Go struct field HTTPResponse.status of type int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeResponse([]byte(tc.env), []byte(tc.raw))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("error %q, want %q", got, tc.wantErr)
			}
			if err == nil && string(r.Body) != tc.wantBody {
				t.Fatalf("body %q, want %q", r.Body, tc.wantBody)
			}
		})
	}
}

// FuzzDecodeResponse: whatever the host hands over, decodeResponse returns
// an error or a body that is exactly the inline or the raw bytes.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"ok":{"status":200,"body_len":3}}`), []byte("abc"))
	f.Add([]byte(`{"ok":{"status":200,"body":"YWJj"}}`), []byte(nil))
	f.Add([]byte(`{"ok":{"status":200,"body_len":-1}}`), []byte(nil))
	f.Add([]byte(`{"error":{"code":"http_failed","message":"x"}}`), []byte("x"))
	f.Fuzz(func(t *testing.T, env, raw []byte) {
		r, err := decodeResponse(env, raw)
		if err != nil {
			return
		}
		if r.BodyLen != 0 {
			t.Fatalf("body_len %d left set", r.BodyLen)
		}
		if len(raw) > 0 && !bytes.Equal(r.Body, raw) {
			t.Fatalf("body %q, raw %q", r.Body, raw)
		}
	})
}
