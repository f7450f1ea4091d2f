package domain

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Codes the proxy returns when a request meets a service.
const (
	// CodeServiceDisabled: the request matched a service that is switched off.
	CodeServiceDisabled = "service_disabled"
	// CodeHostNotAllowed: no service matched and the vault's
	// unmatched_host_policy is deny.
	CodeHostNotAllowed = "host_not_allowed"
	// CodeCredentialUnusable: a credential value cannot be placed where the
	// service puts it (a CR or LF headed for a header).
	CodeCredentialUnusable = "credential_unusable"
	// CodeAmbiguousPath: the request's raw path could mean a different
	// path to the upstream than to the matcher (encoded slash, ";"
	// parameters, double encoding, dot segments) and the host has a
	// path-scoped service, so no credential is attached to it.
	CodeAmbiguousPath = "ambiguous_path"
)

// AuthType says how a service attaches its credential.
type AuthType string

const (
	AuthBearer      AuthType = "bearer"      // Authorization: Bearer <token>
	AuthBasic       AuthType = "basic"       // Authorization: Basic base64(username:password)
	AuthAPIKey      AuthType = "api-key"     // <header>: <prefix><key>
	AuthCustom      AuthType = "custom"      // arbitrary headers rendered from {{ KEY }} templates
	AuthPassthrough AuthType = "passthrough" // nothing injected; substitutions still apply
)

// DefaultAPIKeyHeader is the header an api-key service uses when it names none.
const DefaultAPIKeyHeader = "X-API-Key"

// Surface is a part of a request a substitution may rewrite.
type Surface string

const (
	SurfacePath   Surface = "path"
	SurfaceQuery  Surface = "query"
	SurfaceHeader Surface = "header"
	SurfaceBody   Surface = "body"
)

// Unmatched-host policies of a vault: what the proxy does with a request that
// matches none of the vault's services.
const (
	PolicyPassthrough = "passthrough" // forward without injecting anything
	PolicyDeny        = "deny"        // answer 403 host_not_allowed
)

// Service tells the proxy which requests of a vault get which credential.
// Every credential reference is a key name, never a value. The API and the
// YAML files use this shape as-is.
type Service struct {
	// Name matches ServiceNamePattern and is unique within a vault.
	Name string `json:"name" yaml:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,63}$" doc:"Service name, unique in the vault"`
	// Host is a host pattern; see ParseHostPattern for the accepted forms.
	Host string `json:"host" yaml:"host" doc:"api.x.com, *.x.com, host:port, host/path*, host:port/path*"`
	// Enabled defaults to true when absent. A disabled service still
	// matches, so its requests are refused (service_disabled) instead of
	// falling through to the unmatched-host policy.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty" doc:"Defaults to true"`
	Auth    Auth  `json:"auth" yaml:"auth"`
	// Substitutions replace placeholders the agent writes with real values.
	Substitutions []Substitution `json:"substitutions,omitempty" yaml:"substitutions,omitempty"`
	// AllowSetCookie passes upstream Set-Cookie headers to the agent; they
	// are stripped otherwise.
	AllowSetCookie bool `json:"allow_set_cookie,omitempty" yaml:"allow_set_cookie,omitempty"`
	// AllowPlainHTTP lets the proxy attach credentials to plain-http
	// requests to a host that is not local. Off by default: a credential
	// sent in clear text is readable by everything on the path.
	AllowPlainHTTP bool `json:"allow_plain_http,omitempty" yaml:"allow_plain_http,omitempty" doc:"Attach credentials to plain http:// requests to non-local hosts (not recommended)"`
	// ScrubResponses defaults to true when absent: the values the proxy
	// injected, and their encodings, are replaced in the response's
	// headers and body before the agent sees it.
	ScrubResponses *bool `json:"scrub_responses,omitempty" yaml:"scrub_responses,omitempty" doc:"Replace injected values (and their encodings) in responses with a marker; defaults to true"`
	// UnknownEncoding says what happens to a response body whose
	// Content-Encoding the proxy cannot decode, so cannot scrub:
	// block (the default) answers 502, pass lets it through unscrubbed.
	UnknownEncoding string `json:"unknown_encoding,omitempty" yaml:"unknown_encoding,omitempty" enum:"block,pass" doc:"A response body the proxy cannot decode to scrub: block (default) or pass"`
}

// Unknown-encoding policies of a service.
const (
	EncodingBlock = "block"
	EncodingPass  = "pass"
)

// Codes of response scrubbing and egress checks.
const (
	// CodeSecretEgressBlocked: a request carried a known secret value (or
	// a canary) to a host its credential is not bound to.
	CodeSecretEgressBlocked = "secret_egress_blocked"
	// CodeResponseBlocked: the response carried a canary.
	CodeResponseBlocked = "response_blocked"
	// CodeResponseEncodingUnsupported: the response is compressed in an
	// encoding the proxy cannot scrub, and the service blocks those.
	CodeResponseEncodingUnsupported = "response_encoding_unsupported"
)

// ScrubsResponses reports whether responses are scrubbed (absent means yes).
func (s Service) ScrubsResponses() bool { return s.ScrubResponses == nil || *s.ScrubResponses }

// Auth is a tagged union on Type: each type uses only its own fields.
type Auth struct {
	Type AuthType `json:"type" yaml:"type" enum:"bearer,basic,api-key,custom,passthrough"`
	// Token is the credential key of a bearer token.
	Token string `json:"token,omitempty" yaml:"token,omitempty" doc:"bearer: credential key of the token"`
	// Username and Password are credential keys (basic); Password is optional.
	Username string `json:"username,omitempty" yaml:"username,omitempty" doc:"basic: credential key of the user name"`
	Password string `json:"password,omitempty" yaml:"password,omitempty" doc:"basic: credential key of the password (optional)"`
	// Key is the credential key of an API key; Header defaults to X-API-Key
	// and Prefix is literal text put before the value ("Token ").
	Key    string `json:"key,omitempty" yaml:"key,omitempty" doc:"api-key: credential key of the API key"`
	Header string `json:"header,omitempty" yaml:"header,omitempty" doc:"api-key: header name (default X-API-Key)"`
	Prefix string `json:"prefix,omitempty" yaml:"prefix,omitempty" doc:"api-key: literal text before the value"`
	// Headers maps header names to templates such as "Token {{ API_KEY }}".
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty" doc:"custom: header name to template with {{ KEY }} references"`
}

// Substitution replaces Placeholder with the value of Key in the listed
// surfaces of a request, encoded for each surface.
type Substitution struct {
	Key         string    `json:"key" yaml:"key"`
	Placeholder string    `json:"placeholder" yaml:"placeholder" doc:"4-128 characters of A-Z a-z 0-9 _ . ~ -"`
	In          []Surface `json:"in" yaml:"in" enum:"path,query,header,body"`
}

// IsEnabled reports whether the service is on (absent means on).
func (s Service) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Keys lists every credential key the service references, auth first, each
// once, in a stable order.
func (s Service) Keys() []string {
	var keys []string
	add := func(k string) {
		if k == "" {
			return
		}
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	add(s.Auth.Token)
	add(s.Auth.Username)
	add(s.Auth.Password)
	add(s.Auth.Key)
	for _, name := range slices.Sorted(maps.Keys(s.Auth.Headers)) {
		refs, _ := TemplateKeys(s.Auth.Headers[name])
		for _, k := range refs {
			add(k)
		}
	}
	for _, sub := range s.Substitutions {
		add(sub.Key)
	}
	return keys
}

// MaxServices bounds the services of one vault.
const MaxServices = 1000

// ValidateServices checks a vault's whole service list and returns the first
// problem as a *Error with code invalid_service and a Field such as
// "services[2].auth.token". Names must be unique.
func ValidateServices(list []Service) error {
	if len(list) > MaxServices {
		return FieldError(CodeInvalidService, "services", "a vault may have at most %d services", MaxServices)
	}
	seen := make(map[string]int, len(list))
	for i, s := range list {
		if err := validateService(fmt.Sprintf("services[%d]", i), s); err != nil {
			return err
		}
		if j, dup := seen[s.Name]; dup {
			return FieldError(CodeInvalidService, fmt.Sprintf("services[%d].name", i), "service name %q is already used by services[%d]", s.Name, j)
		}
		seen[s.Name] = i
	}
	return nil
}

// CheckServiceHosts refuses services naming an IP literal or localhost
// unless allowPrivate is set (AGENT_VAULT_ALLOW_PRIVATE_RANGES): such
// services exist for loopback upstreams in development and tests. Call it
// after ValidateServices.
func CheckServiceHosts(list []Service, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	for i, s := range list {
		p, err := ParseHostPattern(s.Host)
		if err != nil {
			return FieldError(CodeInvalidService, fmt.Sprintf("services[%d].host", i), "%s", err.Error())
		}
		if p.IP || p.Host == "localhost" || strings.HasSuffix(p.Host, ".localhost") ||
			p.Suffix == "localhost" || strings.HasSuffix(p.Suffix, ".localhost") {
			return FieldError(CodeInvalidService, fmt.Sprintf("services[%d].host", i),
				"host %q is an IP address or localhost, which a service may name only when the server allows private ranges: "+
					"that is a server setting (--allow-private-ranges or AGENT_VAULT_ALLOW_PRIVATE_RANGES=true) and takes a server restart", s.Host)
		}
	}
	return nil
}

func validateService(at string, s Service) error {
	bad := func(field, format string, args ...any) error {
		return FieldError(CodeInvalidService, at+"."+field, format, args...)
	}
	if !validServiceName(s.Name) {
		return bad("name", "service name %q must match ^[a-z0-9][a-z0-9_-]{0,63}$", s.Name)
	}
	if _, err := ParseHostPattern(s.Host); err != nil {
		return bad("host", "%s", err.Error())
	}
	if err := validateAuth(at+".auth", s.Auth); err != nil {
		return err
	}
	switch s.UnknownEncoding {
	case "", EncodingBlock, EncodingPass:
	default:
		return bad("unknown_encoding", "unknown_encoding must be block or pass, not %q", s.UnknownEncoding)
	}
	if len(s.Substitutions) > 32 {
		return bad("substitutions", "at most 32 substitutions per service")
	}
	placeholders := map[string]bool{}
	for i, sub := range s.Substitutions {
		sat := fmt.Sprintf("substitutions[%d]", i)
		if err := CheckKey(sub.Key); err != nil {
			return bad(sat+".key", "%s", err.(*Error).Message)
		}
		if !ValidPlaceholder(sub.Placeholder) {
			return bad(sat+".placeholder", "placeholder %q must be 4 to 128 characters of A-Z a-z 0-9 _ . ~ -", sub.Placeholder)
		}
		if placeholders[sub.Placeholder] {
			return bad(sat+".placeholder", "placeholder %q is used twice", sub.Placeholder)
		}
		for _, other := range s.Substitutions[:i] {
			if strings.Contains(other.Placeholder, sub.Placeholder) || strings.Contains(sub.Placeholder, other.Placeholder) {
				return bad(sat+".placeholder", "placeholder %q overlaps %q", sub.Placeholder, other.Placeholder)
			}
		}
		placeholders[sub.Placeholder] = true
		if len(sub.In) == 0 {
			return bad(sat+".in", "list at least one of path, query, header, body")
		}
		for j, in := range sub.In {
			switch in {
			case SurfacePath, SurfaceQuery, SurfaceHeader, SurfaceBody:
			default:
				return bad(fmt.Sprintf("%s.in[%d]", sat, j), "unknown surface %q (want path, query, header or body)", in)
			}
		}
	}
	return nil
}

func validServiceName(n string) bool {
	if len(n) == 0 || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidPlaceholder reports whether p may be a substitution placeholder. Only
// URL-unreserved characters are allowed, so a placeholder reads the same in a
// path, a query, a header and a form or JSON body.
func ValidPlaceholder(p string) bool {
	if len(p) < 4 || len(p) > 128 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

func validateAuth(at string, a Auth) error {
	bad := func(field, format string, args ...any) error {
		return FieldError(CodeInvalidService, at+"."+field, format, args...)
	}
	key := func(field, k string) error {
		if err := CheckKey(k); err != nil {
			return bad(field, "%s", err.(*Error).Message)
		}
		return nil
	}
	// Each type accepts only its own fields, so a typo'd type never silently
	// drops a credential.
	allowed := map[AuthType]string{
		AuthBearer:      "token",
		AuthBasic:       "username password",
		AuthAPIKey:      "key header prefix",
		AuthCustom:      "headers",
		AuthPassthrough: "",
	}
	own, ok := allowed[a.Type]
	if !ok {
		return bad("type", "unknown auth type %q (want bearer, basic, api-key, custom or passthrough)", a.Type)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"token", a.Token != ""}, {"username", a.Username != ""}, {"password", a.Password != ""},
		{"key", a.Key != ""}, {"header", a.Header != ""}, {"prefix", a.Prefix != ""}, {"headers", a.Headers != nil},
	} {
		if f.set && !strings.Contains(" "+own+" ", " "+f.name+" ") {
			return bad(f.name, "field %q does not belong to auth type %q", f.name, a.Type)
		}
	}
	switch a.Type {
	case AuthBearer:
		return key("token", a.Token)
	case AuthBasic:
		if err := key("username", a.Username); err != nil {
			return err
		}
		if a.Password != "" {
			return key("password", a.Password)
		}
	case AuthAPIKey:
		if err := key("key", a.Key); err != nil {
			return err
		}
		if a.Header != "" && !ValidHeaderName(a.Header) {
			return bad("header", "%q is not a valid header name", a.Header)
		}
		if reservedHeader(a.Header) {
			return bad("header", "header %q is managed by the proxy", a.Header)
		}
		if !validHeaderText(a.Prefix) {
			return bad("prefix", "prefix may not contain control characters")
		}
	case AuthCustom:
		if len(a.Headers) == 0 {
			return bad("headers", "list at least one header")
		}
		if len(a.Headers) > 32 {
			return bad("headers", "at most 32 headers")
		}
		for _, name := range slices.Sorted(maps.Keys(a.Headers)) {
			if !ValidHeaderName(name) {
				return bad("headers", "%q is not a valid header name", name)
			}
			if reservedHeader(name) {
				return bad("headers", "header %q is managed by the proxy", name)
			}
			tmpl := a.Headers[name]
			if !validHeaderText(tmpl) {
				return bad("headers."+name, "template may not contain control characters")
			}
			keys, err := TemplateKeys(tmpl)
			if err != nil {
				return bad("headers."+name, "%s", err.Error())
			}
			if len(keys) == 0 {
				return bad("headers."+name, "template references no credential key; write {{ KEY }}")
			}
		}
	}
	return nil
}

// reservedHeader lists headers a service may not set: framing and
// hop-by-hop headers belong to the proxy.
func reservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
		"te", "trailer", "proxy-authorization", "proxy-authenticate", "proxy-connection":
		return true
	}
	return false
}

// ValidHeaderName reports whether n is an RFC 9110 token.
func ValidHeaderName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderText allows visible ASCII, space, tab and bytes ≥ 0x80.
func validHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TemplateKeys returns the keys a custom-header template references, in
// order of appearance, each once. References are written {{ KEY }} (spaces
// optional); any other "{{" or "}}" is an error.
func TemplateKeys(tmpl string) ([]string, error) {
	var keys []string
	err := ExpandTemplate(tmpl, func(k string) (string, error) {
		for _, have := range keys {
			if have == k {
				return "", nil
			}
		}
		keys = append(keys, k)
		return "", nil
	}, nil)
	return keys, err
}

// ExpandTemplate walks tmpl, appending literal text and the value of each
// {{ KEY }} reference to out (nil out: walk only). value is called once per
// reference; its error is returned as-is.
func ExpandTemplate(tmpl string, value func(key string) (string, error), out *strings.Builder) error {
	for {
		open := strings.Index(tmpl, "{{")
		closeAt := strings.Index(tmpl, "}}")
		if open < 0 {
			if closeAt >= 0 {
				return fmt.Errorf("unmatched \"}}\" in template")
			}
			if out != nil {
				out.WriteString(tmpl)
			}
			return nil
		}
		if closeAt >= 0 && closeAt < open {
			return fmt.Errorf("unmatched \"}}\" in template")
		}
		end := strings.Index(tmpl[open+2:], "}}")
		if end < 0 {
			return fmt.Errorf("unclosed \"{{\" in template")
		}
		key := strings.TrimSpace(tmpl[open+2 : open+2+end])
		if !ValidKey(key) {
			return fmt.Errorf("template reference %q is not a credential key (^[A-Z][A-Z0-9_]*$)", key)
		}
		v, err := value(key)
		if err != nil {
			return err
		}
		if out != nil {
			out.WriteString(tmpl[:open])
			out.WriteString(v)
		}
		tmpl = tmpl[open+2+end+2:]
	}
}

// HostPattern is a parsed Service.Host. Forms:
//
//	api.x.com            that host, any port, any path
//	*.x.com              exactly one label before x.com (not x.com itself)
//	api.x.com:8443       that port only
//	api.x.com/v1/*       paths starting with /v1/ ("*" only at the end)
//	api.x.com:8443/v1    exactly the path /v1
//	127.0.0.1, [::1]:80  IP literals in canonical form
//
// Host names are matched case-insensitively and stored lower-case.
type HostPattern struct {
	Host     string // exact host ("" for a wildcard); IPv6 without brackets
	Suffix   string // for "*.x.com": "x.com"
	Port     string // "" for any port
	Path     string // "" for any path; otherwise starts with "/"
	Prefix   bool   // Path is a prefix (the pattern ended in "*")
	IP       bool   // Host is an IP literal
	Wildcard bool
}

// ParseHostPattern parses a Service.Host. It does not allocate for a
// lower-case pattern, so matchers may call it per request.
func ParseHostPattern(s string) (HostPattern, error) {
	var p HostPattern
	if s == "" {
		return p, fmt.Errorf("host is empty")
	}
	if len(s) > 512 {
		return p, fmt.Errorf("host pattern is longer than 512 characters")
	}
	if strings.Contains(s, "://") {
		return p, fmt.Errorf("host %q must not contain a scheme", s)
	}
	hostport := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hostport, p.Path = s[:i], s[i:]
		if strings.HasSuffix(p.Path, "*") {
			p.Path, p.Prefix = p.Path[:len(p.Path)-1], true
		}
		if strings.ContainsAny(p.Path, "*?# \t\r\n%") {
			return p, fmt.Errorf("path in %q may contain \"*\" only at its end and no '?', '#', '%%' or spaces", s)
		}
		for i := 0; i < len(p.Path); i++ {
			if c := p.Path[i]; c < 0x21 || c > 0x7e {
				return p, fmt.Errorf("path in %q must be printable ASCII", s)
			}
		}
		if p.Path == "/" && p.Prefix {
			p.Path, p.Prefix = "", false // "/*" is every path
		}
	}
	host := hostport
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return p, fmt.Errorf("unclosed '[' in %q", s)
		}
		host = hostport[1:end]
		rest := hostport[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return p, fmt.Errorf("unexpected %q after ']' in %q", rest, s)
			}
			p.Port = rest[1:]
			if p.Port == "" {
				return p, fmt.Errorf("empty port in %q", s)
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return p, fmt.Errorf("%q is not an IPv6 address", host)
		}
		if a.Is4In6() {
			return p, fmt.Errorf("write the IPv4-mapped address %q as %s", host, a.Unmap().String())
		}
		if a.String() != strings.ToLower(host) {
			return p, fmt.Errorf("write the IPv6 address %q as %s", host, a.String())
		}
		p.Host, p.IP = a.String(), true
	} else {
		if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
			host, p.Port = hostport[:i], hostport[i+1:]
			if p.Port == "" {
				return p, fmt.Errorf("empty port in %q", s)
			}
		}
		if strings.HasPrefix(host, "*.") {
			p.Wildcard = true
			host = host[2:]
		}
		host = strings.ToLower(host)
		if err := checkHostName(host); err != nil {
			return p, err
		}
		if isIPLike(host) {
			if p.Wildcard {
				return p, fmt.Errorf("a wildcard cannot apply to an IP address (%q)", s)
			}
			a, err := netip.ParseAddr(host)
			if err != nil || !a.Is4() || a.String() != host {
				return p, fmt.Errorf("%q looks like an IP address but is not a canonical dotted IPv4 address", host)
			}
			p.IP = true
		} else if p.Wildcard && !strings.Contains(host, ".") {
			return p, fmt.Errorf("wildcard %q must cover a domain with at least two labels", s)
		}
		if p.Wildcard {
			p.Suffix = host
		} else {
			p.Host = host
		}
	}
	if p.Port != "" {
		n, err := strconv.Atoi(p.Port)
		if err != nil || n < 1 || n > 65535 || p.Port[0] == '0' {
			return p, fmt.Errorf("port %q in %q must be 1 to 65535", p.Port, s)
		}
	}
	return p, nil
}

// checkHostName enforces lower-case LDH labels of 1–63 characters.
func checkHostName(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("host name %q must be 1 to 253 characters", h)
	}
	// Walk labels without strings.Split: matchers parse patterns per request.
	for rest := h; ; {
		label := rest
		dot := strings.IndexByte(rest, '.')
		if dot >= 0 {
			label, rest = rest[:dot], rest[dot+1:]
		}
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host name %q has an empty or over-long label", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host name %q may contain only letters, digits, '-' and '_' (use '*.' only as the first label)", h)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host name %q has a label starting or ending with '-'", h)
		}
		if dot < 0 {
			break
		}
	}
	return nil
}

// isIPLike follows the WHATWG URL host rule: a host whose last label is
// numeric (decimal or 0x-hex) is an IPv4 address, so "2130706433" and
// "0x7f.1" are never host names.
func isIPLike(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// Matches reports whether the pattern covers host (lower-case, IPv6 without
// brackets), port and path. Wildcards cover exactly one more label.
func (p HostPattern) Matches(host, port, path string) bool {
	if p.Wildcard {
		if len(host) <= len(p.Suffix)+1 || !strings.HasSuffix(host, p.Suffix) || host[len(host)-len(p.Suffix)-1] != '.' {
			return false
		}
		if strings.IndexByte(host[:len(host)-len(p.Suffix)-1], '.') >= 0 {
			return false
		}
	} else if host != p.Host {
		return false
	}
	if p.Port != "" && port != p.Port {
		return false
	}
	switch {
	case p.Path == "":
		return true
	case p.Prefix:
		return strings.HasPrefix(path, p.Path)
	default:
		return path == p.Path
	}
}
