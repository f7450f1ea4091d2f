package cli_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentLoopApprovedInCLI plays the whole agent loop on the real binary:
// the agent's request to an unknown host in a deny vault gets 403 with a
// proposal_hint, the agent proposes a service and a credential slot, a human
// approves with a value in the CLI, and the agent's next request carries it.
func TestAgentLoopApprovedInCLI(t *testing.T) {
	var seen []string
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		io.WriteString(w, "hello agent")
	}))
	defer upstream.Close()
	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw}), 0o600)
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges", "--upstream-ca-file", caFile})
	human := newOperator(t, s.URL)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		stdout, stderr, code := human.run(nil, stdin, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		return stdout
	}
	cli("password1\n", "register", "--email", "owner@example.com", "--password-stdin")
	cli("", "vault", "create", "shop")
	cli("", "vault", "settings", "set", "shop", "--unmatched-host-policy=deny")
	var sess struct{ Token string }
	if err := json.Unmarshal([]byte(cli("", "vault", "session", "create", "--vault=shop", "--json")), &sess); err != nil || sess.Token == "" {
		t.Fatalf("session: %v", err)
	}

	// The agent: a scoped session token, the instance CA, the proxy.
	res, err := http.Get(s.URL + "/v1/mitm/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(res.Body)
	res.Body.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	proxyURL := &url.URL{Scheme: "http", Host: "127.0.0.1:" + res.Header.Get("X-MITM-Port"), User: url.UserPassword(sess.Token, "shop")}
	agent := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}}

	res, err = agent.Get(upstream.URL + "/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct {
		Error        string `json:"error"`
		ProposalHint string `json:"proposal_hint"`
	}
	json.NewDecoder(res.Body).Decode(&refusal)
	res.Body.Close()
	if res.StatusCode != 403 || refusal.Error != "host_not_allowed" || !strings.Contains(refusal.ProposalHint, "POST /v1/proposals") {
		t.Fatalf("first request: %d %+v", res.StatusCode, refusal)
	}

	host := strings.TrimPrefix(upstream.URL, "https://")
	status, body := post(t, s.URL+"/v1/proposals", sess.Token, fmt.Sprintf(`{"vault":"shop","message":"I need the items API",
		"services":[{"action":"set","name":"items","host":%q,"auth":{"type":"bearer","token":"ITEMS_TOKEN"}}],
		"credentials":[{"action":"set","key":"ITEMS_TOKEN","description":"API token for the items service"}]}`, host))
	if status != http.StatusCreated {
		t.Fatalf("proposal: %d %s", status, body)
	}
	var proposal struct {
		ID          string
		ApprovalURL string `json:"approval_url"`
	}
	json.Unmarshal([]byte(body), &proposal)
	if proposal.ID == "" || !strings.Contains(proposal.ApprovalURL, proposal.ID) {
		t.Fatalf("proposal answer: %s", body)
	}

	// The human reviews and approves with the value, read from stdin.
	if list := cli("", "vault", "proposal", "list", "--vault=shop"); !strings.Contains(list, proposal.ID[:8]) && !strings.Contains(list, proposal.ID) {
		t.Fatalf("proposal list does not show the proposal:\n%s", list)
	}
	out := cli("approved-secret\n", "vault", "proposal", "approve", proposal.ID, "--vault=shop", "ITEMS_TOKEN=-")
	if strings.Contains(out, "approved-secret") {
		t.Fatal("the CLI printed the credential")
	}

	res, err = agent.Get(upstream.URL + "/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "hello agent" || len(seen) != 1 || seen[0] != "Bearer approved-secret" {
		t.Fatalf("after approval: %d %s, upstream saw %q", res.StatusCode, b, seen)
	}
}
