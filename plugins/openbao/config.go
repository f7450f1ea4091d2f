package main

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/agent-vault/agent-vault/sdk"
	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// config is a vault's OpenBao source.
type config struct {
	Mount     string // mount, without slashes
	Path      string // path inside the mount, without leading or trailing slashes
	KVVersion int    // kv_version: 1 or 2
	Recursive bool   // recursive: the secrets one level below Path too
	Namespace string // namespace, "" for the token's own
	Roles     []role // dynamic_roles
}

// role is one leased secret: its name (the key prefix) and the path that
// mints it (e.g. database/creds/readonly).
type role struct {
	Name string
	Path string
}

// parseConfig decodes strictly and checks each field, naming it in the
// error. It reads with sdkjson rather than encoding/json, whose reflection
// is about a megabyte of wasm the host loads on every start.
func parseConfig(raw json.RawMessage) (config, error) {
	c := config{KVVersion: 2}
	var kv, roles = "2", []string(nil)
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	r := sdkjson.NewReader(raw)
	if r.Next() != sdkjson.Object {
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "config: must be a JSON object")
	}
	err := r.Object(func(key []byte) error {
		name := string(key)
		switch name {
		case "mount":
			return readString(r, name, &c.Mount)
		case "path":
			return readString(r, name, &c.Path)
		case "kv_version":
			// A number is accepted too: 2 and "2" mean the same.
			if r.Next() == sdkjson.Number {
				n, err := r.Int64()
				kv = strconv.FormatInt(n, 10)
				return err
			}
			return readString(r, name, &kv)
		case "namespace":
			return readString(r, name, &c.Namespace)
		case "recursive":
			switch r.Next() {
			case sdkjson.Null:
				r.Null()
				return nil
			case sdkjson.Bool:
				b, err := r.Bool()
				c.Recursive = b
				return err
			}
			r.Skip()
			return sdk.Errorf(sdk.CodeInvalidStoreConfig, "recursive: must be true or false")
		case "dynamic_roles":
			if r.Null() {
				return nil
			}
			if r.Next() != sdkjson.Array {
				r.Skip()
				return sdk.Errorf(sdk.CodeInvalidStoreConfig, "dynamic_roles: must be an array of strings")
			}
			return r.Array(func() error {
				if r.Next() != sdkjson.String {
					r.Skip()
					return sdk.Errorf(sdk.CodeInvalidStoreConfig, "dynamic_roles: must be an array of strings")
				}
				s, err := r.String()
				roles = append(roles, s)
				return err
			})
		}
		return sdk.Errorf(sdk.CodeInvalidStoreConfig, "config: unknown field %s", strconv.Quote(sdkjson.Text(key)))
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		if _, ok := err.(*sdk.Error); ok {
			return c, err
		}
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "config: %v", err)
	}
	c.Mount = strings.Trim(strings.TrimSpace(c.Mount), "/")
	c.Path = strings.Trim(strings.TrimSpace(c.Path), "/")
	c.Namespace = strings.Trim(strings.TrimSpace(c.Namespace), "/")
	switch {
	case c.Mount == "":
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "mount: required")
	case !cleanPath(c.Mount):
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "mount: must be a plain path such as secret")
	case c.Path == "":
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "path: required")
	case !cleanPath(c.Path):
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "path: must be a plain path such as app/stripe")
	case c.Namespace != "" && !cleanPath(c.Namespace):
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "namespace: must be a plain path such as team-a")
	}
	switch strings.TrimSpace(kv) {
	case "2", "":
		c.KVVersion = 2
	case "1":
		c.KVVersion = 1
	default:
		return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "kv_version: must be 1 or 2")
	}
	seen := map[string]bool{}
	for _, s := range roles {
		ro, err := parseRole(s)
		if err != nil {
			return c, err
		}
		prefix, _ := sdkKeyPrefix(ro.Name)
		if seen[prefix] {
			return c, sdk.Errorf(sdk.CodeInvalidStoreConfig, "dynamic_roles: two roles are named %s", prefix)
		}
		seen[prefix] = true
		c.Roles = append(c.Roles, ro)
	}
	return c, nil
}

// parseRole reads NAME=path, or a path whose last segment is the name.
func parseRole(s string) (role, error) {
	s = strings.TrimSpace(s)
	name, path, named := strings.Cut(s, "=")
	if !named {
		path = s
		name = path[strings.LastIndexByte(path, '/')+1:]
	}
	name, path = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(path), "/")
	if path == "" || !cleanPath(path) || !strings.Contains(path, "/") {
		return role{}, sdk.Errorf(sdk.CodeInvalidStoreConfig, "dynamic_roles: %q: the path must be like database/creds/<role>", s)
	}
	if _, ok := sdkKeyPrefix(name); !ok {
		return role{}, sdk.Errorf(sdk.CodeInvalidStoreConfig, "dynamic_roles: %q: the name must upper-case to a key such as PGROLE", s)
	}
	return role{Name: name, Path: path}, nil
}

// cleanPath reports whether p is slash-separated segments without empty,
// "." or ".." segments, query or fragment characters.
func cleanPath(p string) bool {
	if p == "" || strings.ContainsAny(p, "?#%\\\x00") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.TrimSpace(seg) != seg {
			return false
		}
	}
	return true
}

func readString(r *sdkjson.Reader, name string, p *string) error {
	switch r.Next() {
	case sdkjson.String, sdkjson.Null:
		v, err := r.StringOrNull(*p)
		*p = v
		return err
	}
	r.Skip()
	return sdk.Errorf(sdk.CodeInvalidStoreConfig, "%s: must be a string", name)
}
