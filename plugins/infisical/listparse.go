package main

import "github.com/agent-vault/agent-vault/sdk/sdkjson"

// secretPair is one listed secret's key and value.
type secretPair struct{ key, value string }

// parseSecretList reads the secretKey and secretValue of every entry of
// the "secrets" array of a list-secrets answer and skips everything else.
//
// It exists for speed: encoding/json's reflection and per-byte scanner
// calls are slow in wasm under the host's deadline checks, and a folder
// answers ~490 bytes per secret in one unpaginated response. sdkjson's
// Reader never makes Go strings of keys or skipped values and scans
// strings eight bytes at a time. It accepts what encoding/json accepts for
// this shape (FuzzParseSecretList checks).
func parseSecretList(b []byte) ([]secretPair, error) {
	r := sdkjson.NewReader(b)
	var out []secretPair
	err := r.Object(func(key []byte) error {
		// encoding/json matches field names case-insensitively; so do we.
		if !sdkjson.EqualFold(key, "secrets") {
			return r.Skip()
		}
		if r.Null() {
			out = nil
			return nil
		}
		out = out[:0]
		return r.Array(func() error {
			var p secretPair
			if r.Null() {
				out = append(out, p)
				return nil
			}
			err := r.Object(func(field []byte) error {
				var err error
				switch {
				case sdkjson.EqualFold(field, "secretKey"):
					p.key, err = r.StringOrNull(p.key)
				case sdkjson.EqualFold(field, "secretValue"):
					p.value, err = r.StringOrNull(p.value)
				default:
					err = r.Skip()
				}
				return err
			})
			out = append(out, p)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return out, nil
}
