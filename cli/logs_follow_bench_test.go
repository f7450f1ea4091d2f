package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLogsFollow measures how soon `vault logs --follow` shows a
// proxied request: each iteration sends one request through `run` and
// curl, and times from the upstream's answer until the follower prints
// the request's row. It reports the median, p99 and worst case in ms.
//
//	go test ./cli -run XXX -bench LogsFollow -benchtime 50x
func BenchmarkLogsFollow(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl is not installed")
	}
	// The upstream notes when it answered each path: the clock starts
	// there, since `run` itself returns only after revoking its session.
	var mu sync.Mutex
	answered := map[string]time.Time{}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		answered[r.URL.Path] = time.Now()
		mu.Unlock()
		io.WriteString(w, "ok\n")
	}))
	defer upstream.Close()
	s := startServerWith(b, newDataDir(b), []string{"--mitm-port=-1", "--allow-private-ranges"})
	o := newOperator(b, s.URL)
	host := strings.TrimPrefix(upstream.URL, "http://")
	for _, args := range [][]string{
		{"register", "--email", "owner@example.com", "--password-stdin"},
		{"vault", "create", "my-app"},
		{"vault", "creds", "set", "--vault=my-app", "UPSTREAM_TOKEN=-"},
		{"service", "set", "up", "--vault=my-app", "--host=" + host, "--auth=bearer", "--token=UPSTREAM_TOKEN"},
	} {
		stdin := map[string]string{"register": "password1\n", "vault": "upstream-secret\n"}[args[0]]
		if _, stderr, code := o.run(nil, stdin, nil, args...); code != 0 {
			b.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	// One request first, so the follower has a newest row to print.
	if _, stderr, code := o.run(nil, "", nil, "run", "--vault=my-app", "--", curl, "-sS", upstream.URL+"/first"); code != 0 {
		b.Fatalf("run: %d %s", code, stderr)
	}
	lines, stop := o.follow("vault", "logs", "--vault=my-app", "--follow", "--json", "--limit=1")
	defer stop()
	waitFor := func(needle string) time.Time {
		timeout := time.After(10 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					b.Fatal("vault logs --follow ended")
				}
				if strings.Contains(line, needle) {
					return time.Now()
				}
			case <-timeout:
				b.Fatalf("vault logs --follow did not show %s within 10s", needle)
			}
		}
	}
	waitFor(`"path": "/first"`)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		path := fmt.Sprintf("/followed-%d", i)
		if _, stderr, code := o.run(nil, "", nil, "run", "--vault=my-app", "--", curl, "-sS", upstream.URL+path); code != 0 {
			b.Fatalf("run: %d %s", code, stderr)
		}
		shown := waitFor(`"path": "` + path + `"`)
		mu.Lock()
		took = append(took, shown.Sub(answered[path]))
		mu.Unlock()
	}
	b.StopTimer()
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)*99/100]), "p99-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
}
