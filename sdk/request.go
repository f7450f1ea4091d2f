package sdk

import (
	"github.com/agent-vault/agent-vault/sdk/abi"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// decodeRequest decodes a store export's input as json.Unmarshal would
// into an abi.Request.
//
// The fast path reads the compact JSON the host writes (json.Marshal of
// abi.Request) in one straight pass; anything else (whitespace, escapes,
// non-ASCII, null, unknown or repeated keys, a config that is not an
// object) goes to decodeRequestSlow. A guest runs under wazero's
// termination check, which leaves the guest at every function entry and
// loop header, so the general reader's calls cost a small call a fifth of
// its time (6 µs in BenchmarkShippedSmallCall).
func decodeRequest(data []byte, req *abi.Request) error {
	var r abi.Request
	if fastRequest(data, &r) {
		*req = r
		return nil
	}
	return decodeRequestSlow(data, req)
}

// fastRequest decodes the compact form or reports false without side
// effects on anything but r.
func fastRequest(data []byte, r *abi.Request) bool {
	d := reqDecoder{data: data}
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return d.pos == len(data)
	}
	var seen uint8
	for {
		key, ok := d.str()
		if !ok || !d.byte(':') {
			return false
		}
		var bit uint8
		switch key {
		case "config":
			bit = 1
			r.Config, ok = d.object()
		case "env":
			bit = 2
			r.Env, ok = d.strMap()
		case "deadline_unix_nano":
			bit = 4
			r.DeadlineUnixNano, ok = d.int()
		case "secrets":
			bit = 8
			r.Secrets, ok = d.strMap()
		case "name":
			bit = 16
			r.Name, ok = d.str()
		case "lease_id":
			bit = 32
			r.LeaseID, ok = d.str()
		}
		if bit == 0 || !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.byte('}') {
			return d.pos == len(data)
		}
		if !d.byte(',') {
			return false
		}
	}
}

type reqDecoder struct {
	data []byte
	pos  int
}

// byte consumes c when it is next.
func (d *reqDecoder) byte(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (d *reqDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.pos
	for ; d.pos < len(d.data); d.pos++ {
		switch c := d.data[d.pos]; {
		case c == '"':
			s := string(d.data[start:d.pos])
			d.pos++
			return s, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

// strMap reads an object of simple strings; {} gives an empty, non-nil map
// as json.Unmarshal does.
func (d *reqDecoder) strMap() (map[string]string, bool) {
	if !d.byte('{') {
		return nil, false
	}
	m := map[string]string{}
	if d.byte('}') {
		return m, true
	}
	for {
		k, ok := d.str()
		if !ok || !d.byte(':') {
			return nil, false
		}
		v, ok := d.str()
		if !ok {
			return nil, false
		}
		m[k] = v // a repeated key: the last wins, as in json.Unmarshal
		if d.byte('}') {
			return m, true
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}

// int reads an integer in JSON's form that fits an int64.
func (d *reqDecoder) int() (int64, bool) {
	neg := d.byte('-')
	start := d.pos
	var n int64
	for ; d.pos < len(d.data); d.pos++ {
		c := d.data[d.pos]
		if c < '0' || c > '9' {
			break
		}
		if n > (1<<63-1-9)/10 { // could overflow: leave it to encoding/json
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	digits := d.pos - start
	if digits == 0 || (digits > 1 && d.data[start] == '0') {
		return 0, false
	}
	if d.pos < len(d.data) && (d.data[d.pos] == '.' || d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// object returns the raw bytes of an object value, found by matching
// braces outside strings and then checked with sdkjson.Valid, which scans
// only the config.
func (d *reqDecoder) object() ([]byte, bool) {
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, false
	}
	start, depth, inStr := d.pos, 0, false
	for ; d.pos < len(d.data); d.pos++ {
		c := d.data[d.pos]
		switch {
		case inStr && c == '\\':
			d.pos++ // skip the escaped byte
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				d.pos++
				raw := d.data[start:d.pos]
				if !sdkjson.Valid(raw) {
					return nil, false
				}
				return append([]byte(nil), raw...), true
			}
		}
	}
	return nil, false
}
