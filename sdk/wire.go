package sdk

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// The guest side of the wire formats, written with sdkjson rather than
// encoding/json: a plugin that does not use encoding/json itself then does
// not link it (about a megabyte of wasm, which the host loads on every
// start). Each encoder writes the bytes json.Marshal writes for the same
// value, and each decoder accepts what json.Unmarshal accepts and gives
// the same value; wire_test.go checks both against encoding/json.

// okEnvelope wraps an encoded result value.
func okEnvelope(value []byte) []byte {
	b := make([]byte, 0, len(value)+8)
	b = append(b, `{"ok":`...)
	b = append(b, value...)
	return append(b, '}')
}

// object writes the members of one JSON object. Its methods are not
// inlined: each member is then one small call, and in wasm code size is
// load time.
type object struct{ b []byte }

func openObject(b []byte) object { return object{append(b, '{')} }

// key writes a member name, which must need no escaping.
//
//go:noinline
func (o *object) key(k string) {
	if o.b[len(o.b)-1] != '{' {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str writes a string member; omitempty leaves out "".
//
//go:noinline
func (o *object) str(k, v string, omitempty bool) {
	if v != "" || !omitempty {
		o.key(k)
		o.b = sdkjson.AppendString(o.b, v)
	}
}

// int writes an integer member; omitempty leaves out 0.
//
//go:noinline
func (o *object) int(k string, v int64, omitempty bool) {
	if v != 0 || !omitempty {
		o.key(k)
		o.b = strconv.AppendInt(o.b, v, 10)
	}
}

// true writes a boolean member that is left out when false.
//
//go:noinline
func (o *object) true(k string, v bool) {
	if v {
		o.key(k)
		o.b = append(o.b, "true"...)
	}
}

// strings writes a []string member; omitempty leaves out an empty one.
//
//go:noinline
func (o *object) strings(k string, v []string, omitempty bool) {
	if len(v) > 0 || !omitempty {
		o.key(k)
		o.b = appendStringSlice(o.b, v)
	}
}

// stringMap writes a map[string]string member; omitempty leaves out an
// empty one.
//
//go:noinline
func (o *object) stringMap(k string, v map[string]string, omitempty bool) {
	if len(v) > 0 || !omitempty {
		o.key(k)
		o.b = sdkjson.AppendStringMap(o.b, v)
	}
}

func (o *object) close() []byte { return append(o.b, '}') }

// objects writes an array of n objects, each filled by fill.
func (o *object) objects(n int, fill func(i int, e *object)) {
	o.b = append(o.b, '[')
	for i := range n {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		e := openObject(o.b)
		fill(i, &e)
		o.b = e.close()
	}
	o.b = append(o.b, ']')
}

func appendStringSlice(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = sdkjson.AppendString(b, v)
	}
	return append(b, ']')
}

// appendManifest writes an abi.Manifest. It fails only for a config schema
// that is not JSON.
func appendManifest(b []byte, m abi.Manifest) ([]byte, error) {
	o := openObject(b)
	o.str("kind", m.Kind, false)
	o.int("abi_version", int64(m.ABIVersion), false)
	o.str("version", m.Version, true)
	o.str("description", m.Description, true)
	o.int("features", int64(m.Features), false)
	o.key("config_schema")
	var err error
	if o.b, err = sdkjson.AppendRaw(o.b, m.ConfigSchema); err != nil {
		return nil, err
	}
	if len(m.Env) > 0 {
		o.key("env")
		o.objects(len(m.Env), func(i int, v *object) {
			e := &m.Env[i]
			v.str("name", e.Name, false)
			v.true("required", e.Required)
			v.str("description", e.Description, true)
			v.str("default", e.Default, true)
			v.true("file", e.File)
			v.strings("fallback", e.Fallback, true)
		})
	}
	o.strings("http_origins", m.HTTPOrigins, true)
	o.str("http_origins_env", m.HTTPOriginsEnv, true)
	return o.close(), nil
}

// appendResult writes the OK value of a store export.
func appendResult(b []byte, v any) []byte {
	switch v := v.(type) {
	case abi.SyncResult:
		o := openObject(b)
		o.stringMap("secrets", v.Secrets, false)
		return o.close()
	case abi.CheckResult:
		o := openObject(b)
		o.str("summary", v.Summary, false)
		return o.close()
	case abi.DynamicListResult:
		o := openObject(b)
		o.key("secrets")
		if v.Secrets == nil {
			o.b = append(o.b, "null"...)
			return o.close()
		}
		o.objects(len(v.Secrets), func(i int, d *object) {
			s := &v.Secrets[i]
			d.str("name", s.Name, false)
			d.str("description", s.Description, true)
			d.strings("fields", s.Fields, false)
			d.int("ttl_seconds", s.TTLSeconds, true)
			d.true("renewable", s.Renewable)
		})
		return o.close()
	case abi.Lease:
		o := openObject(b)
		o.str("lease_id", v.LeaseID, false)
		o.stringMap("values", v.Values, true)
		o.int("ttl_seconds", v.TTLSeconds, false)
		o.true("renewable", v.Renewable)
		return o.close()
	}
	return append(b, "{}"...) // abi.Empty
}

// appendHTTPRequest writes the http_request descriptor.
func appendHTTPRequest(b []byte, r abi.HTTPRequest) []byte {
	o := openObject(b)
	o.str("method", r.Method, false)
	o.str("url", r.URL, false)
	if len(r.Header) > 0 {
		o.key("header")
		o.b = append(o.b, '{')
		for i, k := range sdkjson.SortedKeys(r.Header) {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = sdkjson.AppendString(o.b, k) // any string: the host judges it
			o.b = append(o.b, ':')
			o.b = appendStringSlice(o.b, r.Header[k])
		}
		o.b = append(o.b, '}')
	}
	if len(r.Body) > 0 {
		o.key("body")
		o.b = append(o.b, '"')
		o.b = base64.StdEncoding.AppendEncode(o.b, r.Body)
		o.b = append(o.b, '"')
	}
	o.true("raw_body", r.RawBody)
	return o.close()
}

// decodeRequestSlow decodes a store export's input as json.Unmarshal
// decodes it into an abi.Request: keys matched regardless of case, null
// leaves a field alone (and clears a map), a repeated key adds to a map or
// replaces a value. decodeRequest tries a faster path first.
func decodeRequestSlow(data []byte, req *abi.Request) error {
	*req = abi.Request{}
	r := sdkjson.NewReader(data)
	if r.Null() {
		return r.End()
	}
	err := r.Object(func(key []byte) error {
		var err error
		switch requestField(key) {
		case "config":
			var raw []byte
			if raw, err = r.Raw(); err == nil {
				req.Config = append(req.Config[:0:0], raw...)
			}
		case "env":
			err = decodeStringMap(r, &req.Env)
		case "deadline_unix_nano":
			if !r.Null() {
				req.DeadlineUnixNano, err = r.Int64()
			}
		case "secrets":
			err = decodeStringMap(r, &req.Secrets)
		case "name":
			req.Name, err = r.StringOrNull(req.Name)
		case "lease_id":
			req.LeaseID, err = r.StringOrNull(req.LeaseID)
		default:
			err = r.Skip()
		}
		return err
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		*req = abi.Request{}
	}
	return err
}

var requestFields = [...]string{"config", "env", "deadline_unix_nano", "secrets", "name", "lease_id"}

// requestField names the abi.Request field a key sets, or "". The host
// sends the exact names, so they are tried before case folding.
func requestField(key []byte) string {
	for _, f := range requestFields {
		if string(key) == f {
			return f
		}
	}
	for _, f := range requestFields {
		if sdkjson.EqualFold(key, f) {
			return f
		}
	}
	return ""
}

// decodeStringMap decodes into a map[string]string as json.Unmarshal does:
// null clears it, an object adds to it (a null value is "").
func decodeStringMap(r *sdkjson.Reader, m *map[string]string) error {
	if r.Null() {
		*m = nil
		return nil
	}
	if *m == nil && r.Next() == sdkjson.Object {
		*m = map[string]string{}
	}
	return r.Object(func(key []byte) error {
		v, err := r.StringOrNull("")
		(*m)[sdkjson.Text(key)] = v
		return err
	})
}

// decodeStringSliceMap decodes into a map[string][]string as
// json.Unmarshal does.
func decodeStringSliceMap(r *sdkjson.Reader, m *map[string][]string) error {
	if r.Null() {
		*m = nil
		return nil
	}
	if *m == nil && r.Next() == sdkjson.Object {
		*m = map[string][]string{}
	}
	return r.Object(func(key []byte) error {
		var vs []string
		if !r.Null() {
			vs = []string{}
			err := r.Array(func() error {
				v, err := r.StringOrNull("")
				vs = append(vs, v)
				return err
			})
			if err != nil {
				return err
			}
		}
		(*m)[sdkjson.Text(key)] = vs
		return nil
	})
}

// hostResponseError is a malformed http_response envelope.
func hostResponseError(msg string) error {
	return &HTTPError{Code: abi.CodeHTTPFailed, Message: "host response: " + msg}
}

// decodeHTTPEnvelope decodes the http_response envelope as abi.DecodeEnvelope
// does (strict: unknown members, trailing data, invalid UTF-8, a bad code,
// both or neither of ok and error are errors) and its ok value as
// json.Unmarshal decodes an abi.HTTPResponse (lenient: unknown members are
// skipped, for newer hosts). A failure the host reports is an *HTTPError.
func decodeHTTPEnvelope(env []byte) (*abi.HTTPResponse, error) {
	if !utf8.Valid(env) {
		return nil, hostResponseError("envelope is not valid UTF-8")
	}
	var (
		ok   []byte // the last ok member, as abi.DecodeEnvelope keeps it
		herr *abi.Error
	)
	r := sdkjson.NewReader(env)
	unknown := func(key []byte) error {
		return &sdkjson.SyntaxError{Offset: r.Offset(), Msg: "unknown member " + strconv.Quote(sdkjson.Text(key))}
	}
	err := r.Object(func(key []byte) error {
		var err error
		switch {
		case sdkjson.EqualFold(key, "ok"):
			ok, err = r.Raw()
		case sdkjson.EqualFold(key, "error"):
			if r.Null() {
				herr = nil
				return nil
			}
			if herr == nil && r.Next() == sdkjson.Object {
				herr = &abi.Error{}
			}
			err = r.Object(func(key []byte) error {
				var err error
				switch {
				case sdkjson.EqualFold(key, "code"):
					herr.Code, err = r.StringOrNull(herr.Code)
				case sdkjson.EqualFold(key, "message"):
					herr.Message, err = r.StringOrNull(herr.Message)
				default:
					err = unknown(key)
				}
				return err
			})
		default:
			err = unknown(key)
		}
		return err
	})
	if err == nil {
		err = r.End()
	}
	switch {
	case err != nil:
		return nil, hostResponseError("envelope: " + err.Error())
	case ok != nil && herr != nil:
		return nil, hostResponseError("envelope has both ok and error")
	case herr != nil:
		if !abi.ValidCode(herr.Code) {
			return nil, hostResponseError("envelope error code " + strconv.Quote(abi.Truncate(herr.Code, 80)) + " is malformed")
		}
		return nil, &HTTPError{Code: herr.Code, Message: abi.Truncate(herr.Message, abi.MaxMessageBytes)}
	case ok == nil:
		return nil, hostResponseError("envelope has neither ok nor error")
	}
	var resp abi.HTTPResponse
	if err := decodeHTTPResponseValue(sdkjson.NewReader(ok), &resp); err != nil {
		return nil, hostResponseError(err.Error())
	}
	return &resp, nil
}

// decodeHTTPResponseValue decodes the ok value of the envelope.
func decodeHTTPResponseValue(r *sdkjson.Reader, resp *abi.HTTPResponse) error {
	if r.Null() {
		return nil
	}
	return r.Object(func(key []byte) error {
		var err error
		switch {
		case sdkjson.EqualFold(key, "status"):
			if !r.Null() {
				var n int64
				n, err = r.Int64()
				resp.Status = int(n)
			}
		case sdkjson.EqualFold(key, "header"):
			err = decodeStringSliceMap(r, &resp.Header)
		case sdkjson.EqualFold(key, "body"):
			if r.Null() {
				resp.Body = nil
				return nil
			}
			if r.Next() == sdkjson.Array { // encoding/json takes an array of bytes too
				body := []byte{}
				err = r.Array(func() error {
					n, err := r.Int64()
					if err == nil && (n < 0 || n > 255) {
						err = &sdkjson.SyntaxError{Offset: r.Offset(), Msg: "byte out of range"}
					}
					body = append(body, byte(n))
					return err
				})
				resp.Body = body
				return err
			}
			var s string
			if s, err = r.String(); err == nil {
				resp.Body, err = base64.StdEncoding.DecodeString(s)
			}
		case sdkjson.EqualFold(key, "body_len"):
			if !r.Null() {
				var n int64
				n, err = r.Int64()
				resp.BodyLen = int(n)
			}
		default:
			err = r.Skip()
		}
		return err
	})
}
