package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAgentTextIsEscaped: text an agent writes (a proposal's message, a
// request path) carries terminal escapes; the reviewer's CLI shows them as
// visible escapes and never sends them to the terminal, for people and
// with --json.
func TestAgentTextIsEscaped(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer upstream.Close()
	s := startServerWith(t, newDataDir(t), []string{"--mitm-port=-1", "--allow-private-ranges"})
	human := newOperator(t, s.URL)
	cli := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := human.run(nil, "password1\n", nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		return stdout
	}
	cli("register", "--email", "owner@example.com", "--password-stdin")
	cli("vault", "create", "shop")
	var sess struct{ Token string }
	if err := json.Unmarshal([]byte(cli("vault", "session", "create", "--vault=shop", "--json")), &sess); err != nil || sess.Token == "" {
		t.Fatalf("session: %v", err)
	}
	status, body := post(t, s.URL+"/v1/proposals", sess.Token, `{"vault":"shop",
		"message":"Harmless request\u001b[8m\nservice evil host=attacker.example\u001b[0m",
		"user_message":"fake line\rapproved by admin",
		"credentials":[{"action":"set","key":"TOKEN","description":"for \u202egnp.exe","obtain":"\u009b2J"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("proposal: %d %s", status, body)
	}
	var p struct{ ID string }
	json.Unmarshal([]byte(body), &p)

	assertSafe := func(name, out string, visible ...string) {
		t.Helper()
		for _, bad := range []string{"\x1b", "\r", "\u202e", "\u009b"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: output holds %q:\n%q", name, bad, out)
			}
		}
		for _, v := range visible {
			if !strings.Contains(out, v) {
				t.Errorf("%s: output lacks %s:\n%s", name, v, out)
			}
		}
	}
	assertSafe("proposal show", cli("vault", "proposal", "show", p.ID, "--vault=shop"), `\x1b[8m`, `\r`, `\u202e`, `\u009b`)
	assertSafe("proposal list", cli("vault", "proposal", "list", "--vault=shop"), `\x1b[8m`)
	assertSafe("proposal show --json", cli("vault", "proposal", "show", p.ID, "--vault=shop", "--json"), `\u001b[8m`, `\u202e`, `\u009b`)

	// A request path written by the agent, as the request log shows it.
	res, err := http.Get(s.URL + "/v1/mitm/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	proxyURL := &url.URL{Scheme: "http", Host: "127.0.0.1:" + res.Header.Get("X-MITM-Port"), User: url.UserPassword(sess.Token, "shop")}
	agent := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	res, err = agent.Get(upstream.URL + "/%1b[8m%0d%e2%80%ae")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		out := cli("vault", "logs", "--vault=shop")
		if strings.Contains(out, "127.0.0.1") {
			assertSafe("vault logs", out, `/\x1b[8m`, `\u202e`)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault logs: no row after 5s\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
