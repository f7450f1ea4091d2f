package cli

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// nodeProxyJS makes fetch() in Node.js releases without NODE_USE_ENV_PROXY
// (Node.js 20) use the proxy; later releases skip it.
//
//go:embed run_node_proxy.js
var nodeProxyJS []byte

// javaTrustPassword protects nothing: a PKCS#12 trust store holds only
// public certificates, but the JDK wants a password to check its MAC.
const javaTrustPassword = "changeit"

// runTrust is what run writes for the program to trust the proxy: the CA
// alone and the system roots plus the CA.
type runTrust struct {
	dir        string
	caFile     string // the proxy's CA alone (NODE_EXTRA_CA_CERTS, DENO_CERT: added to the roots)
	bundleFile string // system roots plus the CA (variables that replace the roots)
}

// clientEnv returns the variables that send the common HTTP clients
// through the proxy and make them trust its CA. Each client reads
// different ones:
//
//   - curl, git, Python (requests, httpx, urllib), Go, Ruby: HTTPS_PROXY and
//     HTTP_PROXY (both cases), SSL_CERT_FILE, CURL_CA_BUNDLE,
//     REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO.
//   - Node.js: NODE_EXTRA_CA_CERTS; NODE_USE_ENV_PROXY=1 makes fetch (22.21+,
//     24+) and http/https (24.5+) use the proxy variables; for Node.js 20 a
//     preload (NODE_OPTIONS=--require) does it for fetch.
//   - wget reads neither SSL_CERT_FILE nor CURL_CA_BUNDLE: WGETRC names a
//     wgetrc with ca_certificate, after the caller's own wgetrc lines.
//   - Deno: DENO_CERT, added to its roots.
//   - Java: JAVA_TOOL_OPTIONS with a PKCS#12 trust store and the proxy
//     host and port. The JDK never takes proxy credentials from properties:
//     a Java program authenticates with an Authenticator of its own.
//
// NO_PROXY keeps the caller's entries and adds the Agent Vault API's
// host:port, so a program can reach the API (to propose a service, say)
// directly; clients that do not read ports in NO_PROXY (curl, wget) send
// such requests through the proxy instead.
func clientEnv(t runTrust, proxy *url.URL, apiHostPort string, environ []string) ([]string, error) {
	p := proxy.String()
	env := []string{
		"HTTPS_PROXY=" + p, "HTTP_PROXY=" + p, "https_proxy=" + p, "http_proxy=" + p,
		"SSL_CERT_FILE=" + t.bundleFile, "CURL_CA_BUNDLE=" + t.bundleFile, "REQUESTS_CA_BUNDLE=" + t.bundleFile,
		"GIT_SSL_CAINFO=" + t.bundleFile, "NODE_EXTRA_CA_CERTS=" + t.caFile, "DENO_CERT=" + t.caFile,
		"NODE_USE_ENV_PROXY=1",
	}
	noProxy := mergeNoProxy(lookupEnv(environ, "NO_PROXY", "no_proxy"), apiHostPort)
	env = append(env, "NO_PROXY="+noProxy, "no_proxy="+noProxy)

	preload := filepath.Join(t.dir, "agent-vault-node-proxy.js")
	if err := os.WriteFile(preload, nodeProxyJS, 0o600); err != nil {
		return nil, err
	}
	env = append(env, "NODE_OPTIONS="+joinOpts(lookupEnv(environ, "NODE_OPTIONS"), `--require "`+preload+`"`))

	wgetrc, err := writeWgetrc(t, environ)
	if err != nil {
		return nil, err
	}
	env = append(env, "WGETRC="+wgetrc)

	store, err := writeJavaTrustStore(t)
	if err != nil {
		return nil, err
	}
	host, port := proxy.Hostname(), proxy.Port()
	java := fmt.Sprintf("-Djavax.net.ssl.trustStore=%s -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=%s "+
		"-Dhttps.proxyHost=%s -Dhttps.proxyPort=%s -Dhttp.proxyHost=%s -Dhttp.proxyPort=%s "+
		"-Dhttp.nonProxyHosts=%s -Djdk.http.auth.tunneling.disabledSchemes= -Djdk.http.auth.proxying.disabledSchemes=",
		store, javaTrustPassword, host, port, host, port, javaNonProxyHosts(noProxy))
	env = append(env, "JAVA_TOOL_OPTIONS="+joinOpts(lookupEnv(environ, "JAVA_TOOL_OPTIONS"), java))
	return env, nil
}

// clientEnvNames are the variables clientEnv sets; inherited values are
// replaced (those that extend an inherited value read it first).
var clientEnvNames = []string{
	"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "SSL_CERT_FILE", "CURL_CA_BUNDLE",
	"REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS", "DENO_CERT", "NODE_USE_ENV_PROXY",
	"NO_PROXY", "no_proxy", "NODE_OPTIONS", "WGETRC", "JAVA_TOOL_OPTIONS",
}

// lookupEnv returns the first of names set in environ.
func lookupEnv(environ []string, names ...string) string {
	for _, n := range names {
		for _, kv := range environ {
			if k, v, _ := strings.Cut(kv, "="); k == n {
				return v
			}
		}
	}
	return ""
}

func joinOpts(inherited, add string) string {
	if strings.TrimSpace(inherited) == "" {
		return add
	}
	return inherited + " " + add
}

// mergeNoProxy adds entry to a NO_PROXY list unless it is there already.
func mergeNoProxy(list, entry string) string {
	var out []string
	for e := range strings.FieldsFuncSeq(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if e != entry {
			out = append(out, e)
		}
	}
	return strings.Join(append(out, entry), ",")
}

// writeWgetrc writes a wgetrc that keeps the caller's (WGETRC, else
// ~/.wgetrc) and trusts the bundle; later lines win in a wgetrc.
func writeWgetrc(t runTrust, environ []string) (string, error) {
	var rc []byte
	src := lookupEnv(environ, "WGETRC")
	if src == "" {
		if home := lookupEnv(environ, "HOME"); home != "" {
			src = filepath.Join(home, ".wgetrc")
		}
	}
	if src != "" {
		if b, err := os.ReadFile(src); err == nil {
			rc = append(b, '\n')
		}
	}
	rc = append(rc, "ca_certificate = "+t.bundleFile+"\n"...)
	path := filepath.Join(t.dir, "wgetrc")
	return path, os.WriteFile(path, rc, 0o600)
}

// writeJavaTrustStore writes the bundle as a PKCS#12 trust store, the
// form the JDK reads without extra providers.
func writeJavaTrustStore(t runTrust) (string, error) {
	b, err := os.ReadFile(t.bundleFile)
	if err != nil {
		return "", err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	der, err := pkcs12.Modern.EncodeTrustStore(certs, javaTrustPassword)
	if err != nil {
		return "", fmt.Errorf("writing the Java trust store: %w", err)
	}
	path := filepath.Join(t.dir, "truststore.p12")
	return path, os.WriteFile(path, der, 0o600)
}

// javaNonProxyHosts turns a NO_PROXY list into http.nonProxyHosts, which
// has no ports: an entry with a port is left out rather than widened to
// its whole host. Empty, it also stops the JDK's default of sending
// loopback hosts around the proxy.
func javaNonProxyHosts(noProxy string) string {
	var out []string
	for e := range strings.FieldsFuncSeq(noProxy, func(r rune) bool { return r == ',' || r == ' ' }) {
		if _, _, err := net.SplitHostPort(e); err == nil {
			continue
		}
		if strings.HasPrefix(e, ".") {
			e = "*" + e
		}
		out = append(out, e)
	}
	return strings.Join(out, "|")
}

// apiHostPort is the API's address as NO_PROXY lists it.
func apiHostPort(api *url.URL) string {
	port := api.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[api.Scheme]
	}
	return net.JoinHostPort(api.Hostname(), port)
}
