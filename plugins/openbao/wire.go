package main

import (
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// OpenBao's answers are read with sdkjson rather than encoding/json: its
// reflection-driven codec is about a megabyte of the plugin's wasm, which
// the host loads on every start. Unknown members are skipped, as the API
// adds fields over time (wire doc §1.2).

// decodeEnvelope reads a whole answer body, which must be one object,
// calling member for each of its members with the reader at the value.
func decodeEnvelope(body []byte, member func(r *sdkjson.Reader, key string) error) error {
	r := sdkjson.NewReader(body)
	if r.Null() {
		return r.End()
	}
	if err := r.Object(func(k []byte) error { return member(r, string(k)) }); err != nil {
		return err
	}
	return r.End()
}

func readStr(r *sdkjson.Reader, p *string) (err error) {
	*p, err = r.StringOrNull(*p)
	return err
}

func readInt(r *sdkjson.Reader, p *int64) (err error) {
	if !r.Null() {
		*p, err = r.Int64()
	}
	return err
}

func readBool(r *sdkjson.Reader, p *bool) (err error) {
	if !r.Null() {
		*p, err = r.Bool()
	}
	return err
}

// readValues reads a secret's key/value object. Strings are taken as they
// are; any other JSON value (a number, an object) as its JSON text, which
// is what a reader of the secret would paste; null means no value.
func readValues(r *sdkjson.Reader, each func(key, value string)) error {
	if r.Null() {
		return nil
	}
	return r.Object(func(k []byte) error {
		key := sdkjson.Text(k)
		switch r.Next() {
		case sdkjson.Null:
			r.Null()
			return nil
		case sdkjson.String:
			v, err := r.String()
			each(key, v)
			return err
		}
		raw, err := r.Raw()
		each(key, string(raw))
		return err
	})
}

// readStrings reads an array of strings (or null).
func readStrings(r *sdkjson.Reader, out *[]string) error {
	if r.Null() {
		return nil
	}
	return r.Array(func() error {
		s, err := r.StringOrNull("")
		*out = append(*out, s)
		return err
	})
}
