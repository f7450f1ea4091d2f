package cli_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// procStatusKiB reads a "Name:   123 kB" field of /proc/<pid>/status.
func procStatusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// loginFloodSize is how many sign-ins TestLoginFlood sends at once; an
// environment variable lowers it, to show the test failing against a
// server without the hashing pool without exhausting the machine.
func loginFloodSize() int {
	if n, err := strconv.Atoi(os.Getenv("AGENT_VAULT_TEST_LOGIN_FLOOD")); err == nil && n > 0 {
		return n
	}
	return 500
}

// TestLoginFlood sends 500 sign-ins at once to the real binary, each on
// its own connection, while probing /health. Password hashing (19 MiB
// each) runs in a bounded pool, so the server's peak RSS stays under
// 300 MiB and /health keeps answering within 100 ms; failed sign-ins are
// throttled with 429 + Retry-After and logged without the password.
func TestLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of sign-ins against the real binary")
	}
	s := startServer(t, newDataDir(t))
	if code, body := post(t, s.URL+"/v1/auth/register", "", `{"email":"owner@example.com","password":"owner-password"}`); code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	pid := s.cmd.Process.Pid
	// Reset the peak so it measures the flood, not start-up.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Logf("cannot reset VmHWM (%v); it includes start-up", err)
	}
	before := procStatusKiB(t, pid, "VmHWM")

	// The prober keeps one connection of its own, opened before the flood.
	probe := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	get := func() (time.Duration, error) {
		start := time.Now()
		resp, err := probe.Get(s.URL + "/health")
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("/health: %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// A baseline before the flood: how this machine answers /health now.
	// On a shared 2-core machine at load 30 probes are slow without any
	// flood; the flood is judged against this, not against a fixed figure.
	var baseline []time.Duration
	cadence := time.NewTicker(20 * time.Millisecond) // the flood's probe cadence, so both samples are alike
	for range 25 {
		<-cadence.C
		d, err := get()
		if err != nil {
			t.Fatal(err)
		}
		baseline = append(baseline, d)
	}
	cadence.Stop()
	slices.Sort(baseline)
	slow := max(100*time.Millisecond, 3*baseline[len(baseline)*9/10])

	// The flood comes from a process of its own, so that this one only
	// probes: its probes then time the server, not the flood's clients.
	n := loginFloodSize()
	// In the wild the flood comes from other machines; here it shares the
	// server's two cores, so it runs at the lowest priority (nice 19) to
	// spend only CPU the server and the prober leave.
	flood := exec.Command(os.Args[0], "-test.run=^TestLoginFloodClient$")
	if nice, err := exec.LookPath("nice"); err == nil {
		flood = exec.Command(nice, "-n", "19", os.Args[0], "-test.run=^TestLoginFloodClient$")
	}
	flood.Env = append(os.Environ(), helperEnv+"="+s.URL, fmt.Sprintf("AGENT_VAULT_TEST_LOGIN_FLOOD=%d", n))
	flood.Stderr = os.Stderr
	out, err := flood.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	// The client prints "released" when its logins leave, then one line of
	// JSON with the statuses it got.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for line := range lines {
		if line == "released" {
			break
		}
	}
	released := time.Now()
	var worst time.Duration
	probes, over := 0, 0
	var summary floodSummary
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
probing:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break probing
			}
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Logf("flood client: %s", line)
			}
		case <-tick.C:
			d, err := get()
			if err != nil {
				t.Fatalf("/health during the flood: %v", err)
			}
			worst, probes = max(worst, d), probes+1
			if d > slow {
				over++
			}
			if d > slow {
				t.Logf("slow probe at %s: %s", time.Since(released), d)
			}
		}
	}
	if err := flood.Wait(); err != nil {
		t.Fatalf("flood client: %v", err)
	}
	statuses := summary.Statuses
	if summary.Total != n {
		t.Fatalf("flood client: %+v", summary)
	}
	if summary.MissingRetryAfter > 0 {
		t.Errorf("%d answers of 429 or 503 without Retry-After", summary.MissingRetryAfter)
	}
	peak := procStatusKiB(t, pid, "VmHWM")
	t.Logf("%d logins: statuses %v, %d closed unanswered; VmHWM %d MiB before, %d MiB peak; /health worst %s over %d probes",
		n, statuses, summary.Closed, before>>10, peak>>10, worst, probes)

	if peak > 300<<10 {
		t.Errorf("peak RSS %d MiB during the flood, want under 300 MiB", peak>>10)
	}
	// A server whose /health queues behind hashing is slow on most probes
	// (834 ms with 40 sign-ins before the hashing pool); one that keeps
	// hashing off the request path misses the baseline only on isolated
	// probes, when the kernel parks a thread.
	if over*10 > probes || worst > max(2*time.Second, 3*baseline[len(baseline)-1]) {
		t.Errorf("/health took over %s (3 times the baseline's 90th percentile, at least 100 ms) in %d of %d probes (worst %s, baseline worst %s) during the flood",
			slow, over, probes, worst, baseline[len(baseline)-1])
	}
	for status := range statuses {
		if status != 401 && status != 429 && status != 503 {
			t.Errorf("status %d among the answers %v", status, statuses)
		}
	}
	// The flood's sign-ins all come from one address, whose first 20
	// failures are free; past them one more is let through after each
	// doubling wait (1 s, 2 s, 4 s…), plus those already hashing in the
	// pool's slots when a back-off starts. The rest are throttled (429) or
	// refused by a full hashing pool (503, which on a busy machine may
	// answer nearly all of them).
	budget := 20 + 1 + int(math.Log2(max(1, time.Since(released).Seconds()))) + runtime.NumCPU()
	if statuses[401] > budget {
		t.Errorf("%d wrong passwords answered in %s, more than the throttle lets through (%d): %v", statuses[401], time.Since(released).Round(time.Second), budget, statuses)
	}
	s.stop(t)
	logs := s.stderr.String()
	if !regexp.MustCompile(`msg="login failed" email=owner@example.com address=127\.0\.0\.1:\d+`).MatchString(logs) {
		t.Errorf("no failed sign-in logged with email and address:\n%.2000s", logs)
	}
	if strings.Contains(logs, "flood-guess") {
		t.Error("a password reached the log")
	}
}

// helperEnv makes the test binary a helper process (TestLoginFloodClient);
// its value is the server's URL.
const helperEnv = "AGENT_VAULT_TEST_HELPER"

type floodSummary struct {
	Total             int         `json:"total"`
	Statuses          map[int]int `json:"statuses"`
	MissingRetryAfter int         `json:"missing_retry_after"`
	Closed            int         `json:"closed"` // connections closed unanswered
}

// TestLoginFloodClient is TestLoginFlood's flood, run in a process of its
// own: loginFloodSize() sign-ins at once, each on a connection opened
// beforehand, a fifth of them guessing the owner's password.
func TestLoginFloodClient(t *testing.T) {
	url := os.Getenv(helperEnv)
	if url == "" {
		t.Skip("helper process of TestLoginFlood")
	}
	addr := strings.TrimPrefix(url, "http://")
	n := loginFloodSize()
	type result struct {
		status int
		retry  string
		err    error
	}
	results := make(chan result, n)
	release := make(chan struct{})
	var ready sync.WaitGroup
	for i := range n {
		ready.Add(1)
		go func() {
			c, err := net.Dial("tcp", addr)
			ready.Done()
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			email := fmt.Sprintf("guess-%d@example.com", i)
			if i%5 == 0 {
				email = "owner@example.com"
			}
			body := fmt.Sprintf(`{"email":%q,"password":"flood-guess-%d"}`, email, i)
			<-release
			fmt.Fprintf(c, "POST /v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				addr, len(body), body)
			c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				results <- result{err: err}
				return
			}
			resp.Body.Close()
			results <- result{status: resp.StatusCode, retry: resp.Header.Get("Retry-After")}
		}()
	}
	ready.Wait()
	fmt.Println("released")
	close(release)
	sum := floodSummary{Statuses: map[int]int{}}
	for range n {
		r := <-results
		sum.Total++
		if r.err != nil {
			// Closed unanswered: the server refuses connections beyond
			// its per-address cap at the door.
			if errors.Is(r.err, io.EOF) || errors.Is(r.err, io.ErrUnexpectedEOF) || errors.Is(r.err, syscall.ECONNRESET) || errors.Is(r.err, syscall.EPIPE) {
				sum.Closed++
				continue
			}
			t.Fatalf("login: %v", r.err)
		}
		sum.Statuses[r.status]++
		if (r.status == 429 || r.status == 503) && r.retry == "" {
			sum.MissingRetryAfter++
		}
	}
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
}

// TestAPIRefusesForeignHost is DNS rebinding: a page on evil.example whose
// name resolves to 127.0.0.1 calls the API with Host: evil.example. It
// must not register the owner of a fresh instance (nor read anything);
// names the operator lists in --allowed-hosts are served.
func TestAPIRefusesForeignHost(t *testing.T) {
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port", "0", "--allowed-hosts", "vault.example.com,*.corp.example"})
	addr := strings.TrimPrefix(s.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	send := func(host, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct {
			Code string `json:"code"`
		}
		json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Code
	}
	owner := `{"email":"attacker@evil.example","password":"attacker-password"}`
	for _, host := range []string{"evil.example", "evil.example:" + port, "EVIL.example.", "vault.example.com.evil.example", "corp.example"} {
		if status, code := send(host, "POST", "/v1/auth/register", owner); status != http.StatusMisdirectedRequest || code != "host_not_served" {
			t.Fatalf("register with Host %q: %d %s, want 421 host_not_served", host, status, code)
		}
		if status, _ := send(host, "GET", "/health", ""); status != http.StatusMisdirectedRequest {
			t.Fatalf("/health with Host %q: %d", host, status)
		}
	}
	for _, host := range []string{addr, "localhost:" + port, "[::1]:" + port, "app.localhost", "vault.example.com", "VAULT.example.com:443", "ci.corp.example"} {
		if status, _ := send(host, "GET", "/health", ""); status != 200 {
			t.Fatalf("/health with Host %q: %d", host, status)
		}
	}
	// Nobody registered: the real owner still can.
	if status, code := send(addr, "POST", "/v1/auth/register", `{"email":"owner@example.com","password":"owner-password"}`); status != 201 {
		t.Fatalf("register by the operator: %d %s", status, code)
	}
}

// TestIdleConnectionFloodSparesTheAPI holds more idle connections to the
// proxy than the server has file descriptors (ulimit -n 256). The proxy's
// connection cap keeps the surplus in the kernel's accept queue, so the API
// still accepts, answers /health and signs people in.
func TestIdleConnectionFloodSparesTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("a connection flood against the real binary")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := newDataDir(t)
	cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, binary, "server", "--data-dir", dir, "--port", "0", "--mitm-port=-1")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	s := startServerCmd(t, cmd)
	if code, body := post(t, s.URL+"/v1/auth/register", "", `{"email":"owner@example.com","password":"owner-password"}`); code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	m := regexp.MustCompile(`proxy=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no proxy address in the log:\n%s", s.stderr)
	}
	limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", s.cmd.Process.Pid))
	if !regexp.MustCompile(`Max open files\s+256\s`).Match(limits) {
		t.Skipf("the file-descriptor limit did not take:\n%s", limits)
	}
	for i := range 400 {
		c, err := net.DialTimeout("tcp", m[1], 5*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// New connections: the API must still accept, not only serve one
	// left open from before the flood.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(s.URL + "/health")
	if err != nil {
		t.Fatalf("/health with the proxy flooded: %v", err)
	}
	resp.Body.Close()
	resp, err = client.Post(s.URL+"/v1/auth/login", "application/json", strings.NewReader(`{"email":"owner@example.com","password":"owner-password"}`))
	if err != nil {
		t.Fatalf("login with the proxy flooded: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
}

// TestBlockedNameNotResolved: an agent asking the proxy for an internal
// name learns that it is blocked, not the address behind it.
func TestBlockedNameNotResolved(t *testing.T) {
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1"}, "AGENT_VAULT_RESOLVE=db.internal.example:10.20.30.40")
	code, body := post(t, s.URL+"/v1/auth/register", "", `{"email":"owner@example.com","password":"owner-password"}`)
	if code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	var sess struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(body), &sess)
	m := regexp.MustCompile(`proxy=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no proxy address in the log:\n%s", s.stderr)
	}
	c, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://db.internal.example/ HTTP/1.1\r\nHost: db.internal.example\r\nProxy-Authorization: Basic %s\r\n\r\n",
		base64.StdEncoding.EncodeToString([]byte(sess.Token+":default")))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "destination_blocked") {
		t.Fatalf("got %d %s, want 403 destination_blocked", resp.StatusCode, b)
	}
	if strings.Contains(string(b), "10.20.30.40") || strings.Contains(string(b), "private") {
		t.Fatalf("the answer reveals the address: %s", b)
	}
}
