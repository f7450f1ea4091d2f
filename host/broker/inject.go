package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Lookup returns the value of a credential key. Inject calls it once for
// each key a request actually uses; its error is returned unchanged, so the
// caller decides what a missing key means.
type Lookup func(key string) (string, error)

// DefaultMaxSubstitutionBody bounds the request body buffered for a body
// substitution.
const DefaultMaxSubstitutionBody = 8 << 20

// CodeBodyTooLarge is returned when a body that needs substituting is larger
// than the buffer limit.
const CodeBodyTooLarge = "request_body_too_large"

// Inject applies svc to r in place: substitutions first (so the headers the
// service injects are never rewritten by them), then the auth headers, which
// replace whatever the client sent under those names. r must already be
// stripped of hop-by-hop headers. maxBody bounds a buffered body (0 means
// DefaultMaxSubstitutionBody).
//
// Errors: the Lookup's own error; CodeCredentialUnusable when a value bound
// for a header holds a control character; CodeBodyTooLarge.
func Inject(r *http.Request, svc *domain.Service, lookup Lookup, maxBody int64) error {
	if maxBody <= 0 {
		maxBody = DefaultMaxSubstitutionBody
	}
	for i := range svc.Substitutions {
		if err := substitute(r, &svc.Substitutions[i], lookup, maxBody); err != nil {
			return err
		}
	}
	return injectAuth(r.Header, &svc.Auth, lookup)
}

func injectAuth(h http.Header, a *domain.Auth, lookup Lookup) error {
	get := func(key string) (string, error) {
		v, err := lookup(key)
		if err != nil {
			return "", err
		}
		if !validHeaderValue(v) {
			return "", unusable(key)
		}
		return v, nil
	}
	switch a.Type {
	case domain.AuthBearer:
		v, err := get(a.Token)
		if err != nil {
			return err
		}
		h.Set("Authorization", "Bearer "+v)
	case domain.AuthBasic:
		user, err := get(a.Username)
		if err != nil {
			return err
		}
		pass := ""
		if a.Password != "" {
			if pass, err = get(a.Password); err != nil {
				return err
			}
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	case domain.AuthAPIKey:
		v, err := get(a.Key)
		if err != nil {
			return err
		}
		name := a.Header
		if name == "" {
			name = domain.DefaultAPIKeyHeader
		}
		h.Set(name, a.Prefix+v)
	case domain.AuthCustom:
		names := make([]string, 0, len(a.Headers))
		for n := range a.Headers {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var b strings.Builder
			if err := domain.ExpandTemplate(a.Headers[n], get, &b); err != nil {
				return err
			}
			h.Set(n, b.String())
		}
	}
	return nil
}

func unusable(key string) error {
	return domain.Errorf(domain.CodeCredentialUnusable, "the value of credential %q contains a control character and cannot be sent in a header", key)
}

// validHeaderValue refuses CR, LF, NUL and the other controls except tab:
// a value with CR/LF would split the request.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func substitute(r *http.Request, sub *domain.Substitution, lookup Lookup, maxBody int64) error {
	ph := sub.Placeholder
	var value string
	resolved := false
	get := func() (string, error) {
		if !resolved {
			v, err := lookup(sub.Key)
			if err != nil {
				return "", err
			}
			value, resolved = v, true
		}
		return value, nil
	}
	for _, in := range sub.In {
		switch in {
		case domain.SurfacePath:
			esc := r.URL.EscapedPath()
			if !strings.Contains(esc, ph) {
				continue
			}
			v, err := get()
			if err != nil {
				return err
			}
			raw, path, err := substitutePath(esc, ph, v)
			if err != nil {
				return err
			}
			r.URL.RawPath, r.URL.Path = raw, path
		case domain.SurfaceQuery:
			if !strings.Contains(r.URL.RawQuery, ph) {
				continue
			}
			v, err := get()
			if err != nil {
				return err
			}
			r.URL.RawQuery = substituteQuery(r.URL.RawQuery, ph, v)
		case domain.SurfaceHeader:
			for name, vals := range r.Header {
				for i, hv := range vals {
					if !strings.Contains(hv, ph) {
						continue
					}
					v, err := get()
					if err != nil {
						return err
					}
					if !validHeaderValue(v) {
						return unusable(sub.Key)
					}
					r.Header[name][i] = strings.ReplaceAll(hv, ph, v)
				}
			}
		case domain.SurfaceBody:
			if err := substituteRequestBody(r, ph, get, maxBody); err != nil {
				return err
			}
		}
	}
	return nil
}

// substitutePath replaces ph in an escaped path with v escaped as one path
// segment ("/" in v becomes %2F, so a value cannot add segments). It returns
// the new escaped path and its decoded form, ready for URL.RawPath and
// URL.Path.
func substitutePath(escaped, ph, v string) (rawPath, path string, err error) {
	raw := strings.ReplaceAll(escaped, ph, url.PathEscape(v))
	path, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", domain.Errorf(domain.CodeInvalidInput, "the request path is not validly escaped")
	}
	return raw, path, nil
}

// substituteQuery replaces ph in a raw query with v query-escaped.
func substituteQuery(rawQuery, ph, v string) string {
	return strings.ReplaceAll(rawQuery, ph, url.QueryEscape(v))
}

// bodyKind says how a body of a given type is rewritten.
type bodyKind int

const (
	bodyUntouched bodyKind = iota
	bodyForm
	bodyJSON
	bodyText
)

// kindOf classifies a request body by its Content-Type and
// Content-Encoding. Compressed, multipart and binary bodies are never
// rewritten: a placeholder inside them cannot be replaced safely.
func kindOf(contentType, contentEncoding string) bodyKind {
	if ce := strings.TrimSpace(contentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return bodyUntouched
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return bodyUntouched
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		return bodyForm
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case strings.HasPrefix(mt, "text/"):
		return bodyText
	}
	return bodyUntouched
}

// substituteBody replaces ph in body with v encoded for kind: form-escaped,
// JSON-string-escaped (the placeholder is expected inside a string) or raw
// for text. It reports whether anything changed.
func substituteBody(kind bodyKind, body []byte, ph, v string) ([]byte, bool) {
	if kind == bodyUntouched || !bytes.Contains(body, []byte(ph)) {
		return body, false
	}
	var enc string
	switch kind {
	case bodyForm:
		enc = url.QueryEscape(v)
	case bodyJSON:
		q, _ := json.Marshal(v) // a string always marshals
		enc = string(q[1 : len(q)-1])
	default:
		enc = v
	}
	return bytes.ReplaceAll(body, []byte(ph), []byte(enc)), true
}

func substituteRequestBody(r *http.Request, ph string, get func() (string, error), maxBody int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	kind := kindOf(r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"))
	if kind == bodyUntouched {
		return nil
	}
	if r.ContentLength > maxBody {
		return tooLarge(maxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	if err != nil {
		return err
	}
	if int64(len(body)) > maxBody {
		return tooLarge(maxBody)
	}
	if bytes.Contains(body, []byte(ph)) {
		v, err := get()
		if err != nil {
			return err
		}
		body, _ = substituteBody(kind, body, ph, v)
	}
	setBody(r, body)
	return nil
}

func tooLarge(maxBody int64) error {
	return domain.Errorf(CodeBodyTooLarge, "a request body that needs a substitution may be at most %d bytes", maxBody)
}

func setBody(r *http.Request, body []byte) {
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Del("Content-Length")
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}
