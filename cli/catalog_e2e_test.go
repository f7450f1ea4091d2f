package cli_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/sdk/golden"
)

// TestServiceCatalogCLI drives the catalog commands through the built
// binary against a server with its proxy: listing and searching the
// catalog, adding services from it (keys renamed by flag, asked on a
// terminal, or the suggested ones), and a host an agent reached without a
// service showing up in 'service discovered' with its catalog entry, until
// a service from that entry covers it. The transcript is the golden
// testdata/e2e/catalog.golden.
func TestServiceCatalogCLI(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("upstream saw " + r.URL.Path + "\n"))
	}))
	defer upstream.Close()
	_, upPort, _ := net.SplitHostPort(strings.TrimPrefix(upstream.URL, "http://"))
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges"}, "AGENT_VAULT_RESOLVE=api.github.com:127.0.0.1")
	o := newOperator(t, s.URL)
	githubURL := "http://api.github.com:" + upPort + "/user/repos?token=query-secret-value"

	type step struct {
		name     string
		args     []string
		typed    string // typed on a terminal
		wantExit int
		await    func(stdout string) bool // repeat until true (the recorder writes in batches)
	}
	steps := []step{
		{name: "register", args: []string{"register", "--email", "owner@example.com", "--password-stdin"}},
		{name: "catalog", args: []string{"service", "catalog"}},
		{name: "catalog-search", args: []string{"service", "catalog", "mail"}},
		{name: "catalog-search-none", args: []string{"service", "catalog", "no-such-api"}},
		{name: "add-unknown-entry", args: []string{"service", "add", "--from-catalog", "nope"}, wantExit: 3},
		{name: "add-with-auth-flags", args: []string{"service", "add", "--from-catalog", "github", "--auth=bearer", "--token=X_KEY"}, wantExit: 2},
		{name: "add-too-many-keys", args: []string{"service", "add", "--from-catalog", "openai", "--credential=A_KEY", "--credential=B_KEY"}, wantExit: 2},
		{name: "add-bad-key", args: []string{"service", "add", "--from-catalog", "openai", "--credential=lower"}, wantExit: 1},
		{name: "add-credential-without-catalog", args: []string{"service", "add", "x", "--credential=A_KEY"}, wantExit: 2},
		{name: "add-no-name", args: []string{"service", "add", "--host=x.com", "--auth=passthrough"}, wantExit: 2},
		{name: "add-twilio-renamed", args: []string{"service", "add", "--from-catalog", "twilio", "--credential=TW_SID", "--credential=TW_TOKEN"}},
		{name: "add-datadog-eu-json", args: []string{"service", "add", "dd-eu", "--from-catalog", "datadog", "--host=api.datadoghq.eu", "--credential=DD_API", "--credential=DD_APP", "--json"}},
		{name: "add-openai-asked", typed: "MY_OPENAI_KEY\n", args: []string{"service", "add", "--from-catalog", "openai"}},
		{name: "add-anthropic-default-asked", typed: "\n", args: []string{"service", "add", "--from-catalog", "anthropic"}},
		{name: "service-list", args: []string{"service", "list"}},
		{name: "discovered-empty", args: []string{"service", "discovered"}},
		{name: "run-to-unknown-host", args: []string{"run", "--", "curl", "-sS", githubURL}},
		{name: "discovered", args: []string{"service", "discovered"}, await: func(out string) bool { return strings.Contains(out, "api.github.com") }},
		{name: "discovered-json", args: []string{"service", "discovered", "--json"}},
		{name: "add-github-no-terminal", args: []string{"service", "add", "--from-catalog", "github"}},
		{name: "discovered-after-service", args: []string{"service", "discovered"}},
	}
	var transcript strings.Builder
	for _, st := range steps {
		var stdout, stderr string
		var code int
		deadline := time.Now().Add(30 * time.Second)
		for {
			switch {
			case st.name == "register":
				stdout, stderr, code = o.run(nil, "password1\n", nil, st.args...)
			case st.typed != "":
				stdout, stderr, code = withTerminal(t, o, st.typed, st.args...)
			default:
				stdout, stderr, code = o.run(nil, "", nil, st.args...)
			}
			if st.await == nil || st.await(stdout) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond) // polling the server, not timing the test
		}
		if code != st.wantExit {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", st.name, code, st.wantExit, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "query-secret-value") && st.name != "run-to-unknown-host" {
			t.Errorf("%s: a query value of a proxied request is shown", st.name)
		}
		if st.name == "discovered-json" {
			var res struct {
				Hosts []struct {
					Host      string `json:"host"`
					Count     int    `json:"count"`
					CatalogID string `json:"catalog_id"`
				} `json:"hosts"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Hosts) != 1 || res.Hosts[0].CatalogID != "github" || res.Hosts[0].Count != 1 {
				t.Errorf("discovered hosts: %s (%v)", stdout, err)
			}
		}
		args := strings.ReplaceAll(strings.Join(st.args, " "), upPort, "UPPORT")
		transcript.WriteString("### " + st.name + "\n$ agent-vault " + args + "\n")
		if st.typed != "" {
			transcript.WriteString("[typed] " + strconv.Quote(st.typed) + "\n")
		}
		transcript.WriteString(stdout)
		if stderr != "" {
			transcript.WriteString("[stderr]\n" + stderr)
		}
		transcript.WriteString("[exit " + strconv.Itoa(code) + "]\n\n")
	}
	got := strings.ReplaceAll(transcript.String(), o.home, "$HOME")
	got = strings.ReplaceAll(got, ":"+upPort, ":UPPORT")
	golden.Check(t, "e2e/catalog", []byte(normalize(got)))
}
