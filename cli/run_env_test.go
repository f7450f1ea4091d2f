package cli

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientEnv(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".wgetrc"), []byte("tries = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := runTrust{dir: dir, caFile: filepath.Join(dir, "ca.pem"), bundleFile: filepath.Join(dir, "bundle.pem")}
	// The bundle's only certificate is not needed to parse: the Java
	// trust store is built from whatever certificates the file holds.
	if err := os.WriteFile(tr.bundleFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := &url.URL{Scheme: "http", User: url.UserPassword("tok", "v"), Host: "127.0.0.1:14322"}
	environ := []string{"HOME=" + home, "NO_PROXY=.corp.example, localhost", "NODE_OPTIONS=--max-old-space-size=64", "JAVA_TOOL_OPTIONS=-Xmx64m"}
	env, err := clientEnv(tr, proxy, "127.0.0.1:14321", environ)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for _, name := range clientEnvNames {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is not set", name)
		}
	}
	tests := []struct{ name, want string }{
		{"HTTPS_PROXY", "http://tok:v@127.0.0.1:14322"},
		{"NO_PROXY", ".corp.example,localhost,127.0.0.1:14321"},
		{"no_proxy", ".corp.example,localhost,127.0.0.1:14321"},
		{"NODE_USE_ENV_PROXY", "1"},
		{"NODE_OPTIONS", `--max-old-space-size=64 --require "` + filepath.Join(dir, "agent-vault-node-proxy.js") + `"`},
		{"DENO_CERT", tr.caFile},
		{"WGETRC", filepath.Join(dir, "wgetrc")},
	}
	for _, tc := range tests {
		if got[tc.name] != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, got[tc.name], tc.want)
		}
	}
	java := got["JAVA_TOOL_OPTIONS"]
	for _, want := range []string{"-Xmx64m ", "-Djavax.net.ssl.trustStore=" + filepath.Join(dir, "truststore.p12"), "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=14322",
		"-Dhttp.nonProxyHosts=*.corp.example|localhost "} {
		if !strings.Contains(java, want) {
			t.Errorf("JAVA_TOOL_OPTIONS %q lacks %q", java, want)
		}
	}
	if strings.Contains(java, "tok") {
		t.Error("JAVA_TOOL_OPTIONS holds the session token")
	}
	rc, err := os.ReadFile(got["WGETRC"])
	if err != nil || string(rc) != "tries = 2\n\nca_certificate = "+tr.bundleFile+"\n" {
		t.Errorf("wgetrc %q (%v): want the caller's lines, then ca_certificate", rc, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "truststore.p12")); err != nil {
		t.Error(err)
	}
}

func TestJavaNonProxyHosts(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"127.0.0.1:14321", ""},
		{".example.com,api.test , [::1]:80,*", "*.example.com|api.test|*"},
	}
	for _, tc := range tests {
		if got := javaNonProxyHosts(tc.in); got != tc.want {
			t.Errorf("javaNonProxyHosts(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
