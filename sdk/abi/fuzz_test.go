package abi

import (
	"encoding/json"
	"testing"
)

// The decoders below see bytes chosen by a plugin (or by the network through
// a plugin), so each must reject garbage with an error and never panic.

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{`{"ok":{}}`, `{"error":{"code":"x","message":"m"}}`, `{"ok":null}`, `{}`, `[]`, `{"ok":{}} x`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok, gerr, err := DecodeEnvelope(data)
		if err == nil && (ok == nil) == (gerr == nil) {
			t.Fatalf("decoded both or neither: ok=%q err=%v", ok, gerr)
		}
		if gerr != nil && len(gerr.Message) > MaxMessageBytes {
			t.Fatalf("message not cut: %d bytes", len(gerr.Message))
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	for _, s := range []string{
		`{"kind":"example","abi_version":1,"features":2,"config_schema":{"type":"object"},"env":[{"name":"A"}],"http_origins_env":"A"}`,
		`{"kind":"x","abi_version":2,"features":0,"config_schema":{"type":"object"}}`,
		`{"kind":"x","abi_version":1,"features":7,"config_schema":{"type":"object"},"http_origins":["https://a"]}`,
		`null`, `{"kind":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest fails validation: %v", err)
		}
		// A valid manifest survives a round trip.
		b, _ := json.Marshal(m)
		if _, err := DecodeManifest(b); err != nil {
			t.Fatalf("round trip: %v (%s)", err, b)
		}
	})
}

func FuzzCheckRange(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint32(65536))
	f.Add(uint32(65535), uint32(1), uint32(65536))
	f.Add(uint32(0xffffffff), uint32(2), uint32(65536))
	f.Fuzz(func(t *testing.T, ptr, length, mem uint32) {
		if CheckRange(ptr, length, mem) == nil {
			if uint64(ptr)+uint64(length) > uint64(mem) {
				t.Fatalf("accepted [%d,+%d) in %d", ptr, length, mem)
			}
			// The packed form round-trips.
			if p, l := Unpack(Pack(ptr, length)); p != ptr || l != length {
				t.Fatal("pack round trip")
			}
		}
	})
}

func FuzzDecodeHTTPRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":"GET","url":"https://api.example.com/x"}`,
		`{"method":"POST","url":"http://127.0.0.1:1/","header":{"A":["b"]},"body":"AA=="}`,
		`{"method":"GET","url":"http://[::1]:80/"}`,
		`{"method":"GET","url":"https://u@x/"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, origin, err := DecodeHTTPRequest(data)
		if err != nil {
			return
		}
		if !methods[r.Method] || origin == "" {
			t.Fatalf("accepted %q with origin %q", r.Method, origin)
		}
		if again, err := ParseOrigin(origin); err != nil || again != origin {
			t.Fatalf("origin %q not canonical: %q, %v", origin, again, err)
		}
	})
}
