// Package web serves the browser UI: the Vite build in dist/, embedded into
// the binary. The host mounts Handler at "/" beside the API.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// dist holds the built UI. Only dist/README.md is committed, so a fresh
// clone builds before `npm run build` has run; Handler then serves a page
// that says how to build the UI.
//
//go:embed all:dist
var dist embed.FS

// csp allows only the UI's own scripts, styles and API calls: no inline
// script, no eval, no third-party origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the embedded UI.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // cannot happen: dist is embedded
		panic(err)
	}
	return newHandler(sub)
}

// newHandler serves files from root: hashed assets with a year-long cache,
// known files as they are, and index.html for every other path (client
// routes such as /vaults/prod), so a reload lands on the right page.
func newHandler(root fs.FS) http.Handler {
	index, _ := fs.ReadFile(root, "index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "assets" || strings.HasPrefix(name, "assets/") {
			// Vite names every asset after its content hash: it never changes.
			if !serveFile(w, r, root, name, "public, max-age=31536000, immutable") {
				http.NotFound(w, r)
			}
			return
		}
		if name != "" && name != "index.html" && path.Ext(name) != "" {
			// README.md is the committed placeholder, not part of the UI.
			if name != "README.md" && serveFile(w, r, root, name, "no-cache") {
				return
			}
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", "text/html; charset=utf-8")
		if index == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(notBuilt))
			return
		}
		w.Write(index)
	})
}

// serveFile writes root/name with the given cache policy; false when the
// file does not exist (or is a directory).
func serveFile(w http.ResponseWriter, r *http.Request, root fs.FS, name, cache string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	w.Header().Set("Cache-Control", cache)
	http.ServeFileFS(w, r, root, name)
	return true
}

// notBuilt is served when the binary was built without the UI.
const notBuilt = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Agent Vault</title></head>
<body><h1>Agent Vault</h1><p>This binary was built without the browser UI. Run <code>make web</code> (or
<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), then rebuild. The API is at <a href="/v1/status">/v1/status</a>.</p></body></html>
`
