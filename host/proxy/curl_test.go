package proxy

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCurl drives the proxy with curl, the client agents most often shell
// out to: HTTPS_PROXY-style userinfo, CONNECT with the MITM CA trusted via
// --cacert, and absolute-form for http://.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	e := newEnv(t, testServices())
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.mitmCA.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			cmd := exec.Command(curl, "-sS", "--fail-with-body", "--proxy", "http://tok1:main@"+e.addr, "--cacert", caFile,
				"-H", "Authorization: Bearer agent-fake", scheme+"://api.test/v1/curl?x=1")
			cmd.Env = []string{} // no proxy or CA settings from the environment
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v: %s", err, out)
			}
			var got echo
			js, err := unwrapEcho(out)
			if err == nil {
				err = json.Unmarshal(js, &got)
			}
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if got.Header.Get("Authorization") != "Bearer sk_live_TOKENVALUE" || got.Raw != "/v1/curl?x=1" || got.TLS != (scheme == "https") {
				t.Fatalf("upstream saw auth %q uri %q tls %v", got.Header.Get("Authorization"), got.Raw, got.TLS)
			}
		})
	}
}
