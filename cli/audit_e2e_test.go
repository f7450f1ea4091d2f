package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-vault/agent-vault/sdk/golden"
	_ "modernc.org/sqlite"
)

// auditSecret is a credential value set during the test: it must appear in
// no audit entry, export, sink line or CLI output.
const auditSecret = "sk_live_audit_7f3a9c"

var (
	hashRe    = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	secondsRe = regexp.MustCompile(`(YYYY-MM-DD hh:mm):\d\d`)
	mac32Re   = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	macRe     = regexp.MustCompile(`("value_macs":\{"[A-Z_]+":")[0-9a-f]*`)
)

func normalizeAudit(s string) string {
	s = hashRe.ReplaceAllString(s, strings.Repeat("h", 64))
	s = mac32Re.ReplaceAllString(s, strings.Repeat("m", 32))
	s = macRe.ReplaceAllString(s, "${1}MAC")
	return secondsRe.ReplaceAllString(normalize(s), "$1:ss")
}

// TestAuditTrail drives administrative actions through the real binary and
// server, then reads the trail with audit list, export and verify (golden
// transcript), checks that no credential value reached the trail, its
// export or the --audit-file sink, and that editing or deleting a row in
// the database file makes `audit verify` fail at that row.
func TestAuditTrail(t *testing.T) {
	dataDir := newDataDir(t)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServerWith(t, dataDir, []string{"--mitm-port", "0", "--audit-file", sinkPath})
	o := newOperator(t, s.URL)
	var transcript strings.Builder
	step := func(name, stdin string, wantExit int, args ...string) string {
		t.Helper()
		stdout, stderr, code := o.run(nil, stdin, nil, args...)
		if code != wantExit {
			t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", name, code, wantExit, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, auditSecret) {
			t.Errorf("%s: output shows the credential value", name)
		}
		transcript.WriteString("### " + name + "\n$ agent-vault " + strings.Join(args, " ") + "\n" + stdout)
		if stderr != "" {
			transcript.WriteString("[stderr]\n" + stderr)
		}
		transcript.WriteString("[exit " + strconv.Itoa(code) + "]\n\n")
		return stdout
	}
	quiet := func(stdin string, wantExit int, args ...string) {
		t.Helper()
		if _, stderr, code := o.run(nil, stdin, nil, args...); code != wantExit {
			t.Fatalf("%v: exit %d, want %d: %s", args, code, wantExit, stderr)
		}
	}
	quiet("password1\n", 0, "register", "--email", "owner@example.com", "--password-stdin")
	quiet("password9\n", 6, "login", "--email", "owner@example.com", "--password-stdin")
	quiet("password1\n", 0, "login", "--email", "owner@example.com", "--password-stdin")
	quiet("", 0, "vault", "create", "billing")
	quiet(auditSecret+"\n", 0, "vault", "credential", "set", "--vault", "billing", "STRIPE_KEY=-")
	quiet("", 0, "vault", "rename", "billing", "payments")
	quiet("", 0, "vault", "credential", "delete", "--vault", "payments", "STRIPE_KEY")
	quiet("", 3, "vault", "credential", "delete", "--vault", "payments", "NOPE")

	step("list", "", 0, "audit", "list")
	step("list-filtered-json", "", 0, "audit", "list", "--operation", "set-credentials", "--json")
	step("list-bad-since", "", 2, "audit", "list", "--since", "yesterday")
	step("verify", "", 0, "audit", "verify")
	export := filepath.Join(o.home, "audit.jsonl")
	step("export-jsonl", "", 0, "audit", "export", "--format", "jsonl", "-o", export)
	step("verify-export", "", 0, "audit", "verify", "--file", export)
	step("export-csv", "", 0, "audit", "export", "--format", "csv", "--vault", "payments")

	// No value anywhere: the database rows, the export, the sink.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "agent-vault.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var rows string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(actor_name || target || outcome || summary, '|') FROM audit_log`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	sink, _ := os.ReadFile(sinkPath)
	exported, _ := os.ReadFile(export)
	for name, text := range map[string]string{"audit_log": rows, "sink": string(sink), "export": string(exported)} {
		if strings.Contains(text, auditSecret) || strings.Contains(text, "password1") || strings.Contains(text, "password9") {
			t.Errorf("%s holds a credential value or password", name)
		}
	}
	if !strings.Contains(rows, "STRIPE_KEY") {
		t.Errorf("the trail does not name the key that was set: %s", rows)
	}
	// The sink holds the same entries as the database, line for line.
	if got, want := strings.Count(string(sink), "\n"), strings.Count(string(exported), "\n"); got < want || want < 8 {
		t.Errorf("sink has %d lines, export %d", got, want)
	}
	if !strings.HasPrefix(string(sink), strings.SplitN(string(exported), "\n", 2)[0]) {
		t.Errorf("the sink's first line differs from the export's:\n%s\n%s", sink, exported)
	}

	// Tampering with the real database is found at the row touched.
	tamper := func(name, q string, wantSeq int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := o.run(nil, "", nil, "audit", "verify")
		if code != 1 || !strings.Contains(stderr, "audit chain broken at seq "+strconv.Itoa(wantSeq)+":") {
			t.Fatalf("%s: verify exit %d, stdout %q, stderr %q; want exit 1 naming seq %d", name, code, stdout, stderr, wantSeq)
		}
		transcript.WriteString("### verify-after-" + name + "\n$ agent-vault audit verify\n" + stdout + "[stderr]\n" + stderr + "[exit 1]\n\n")
	}
	var target string
	if err := db.QueryRowContext(ctx, `SELECT target FROM audit_log WHERE seq = 5`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	tamper("edit", `UPDATE audit_log SET target = 'credentials OTHER_KEY' WHERE seq = 5`, 5)
	if _, err := db.ExecContext(ctx, `UPDATE audit_log SET target = ? WHERE seq = 5`, target); err != nil {
		t.Fatal(err)
	}
	step("verify-restored", "", 0, "audit", "verify")
	tamper("delete", `DELETE FROM audit_log WHERE seq = 3`, 3)
	// The export taken before still verifies; a copy with a line removed
	// does not.
	lines := strings.Split(string(exported), "\n")
	cut := filepath.Join(o.home, "cut.jsonl")
	os.WriteFile(cut, []byte(strings.Join(append(lines[:2:2], lines[3:]...), "\n")), 0o600)
	step("verify-export-cut", "", 1, "audit", "verify", "--file", cut)
	testAuditFollow(t, o)
	golden.Check(t, "e2e/audit", []byte(normalizeAudit(strings.ReplaceAll(transcript.String(), o.home, "$HOME"))))
}

// wantLocalAudit checks that the data directory's audit trail ends with
// entries of these operations by the local actor, in order.
func wantLocalAudit(t *testing.T, dataDir string, ops ...string) {
	t.Helper()
	wantLocalAuditSummaries(t, dataDir, ops, nil)
}

// wantLocalAuditSummaries is wantLocalAudit that also compares each
// entry's summary, when summaries is not nil.
func wantLocalAuditSummaries(t *testing.T, dataDir string, ops, summaries []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "agent-vault.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor_kind, operation, outcome, summary FROM audit_log ORDER BY seq DESC LIMIT ?`, len(ops))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var kind, op, outcome, summary string
		rows.Scan(&kind, &op, &outcome, &summary)
		line := kind + " " + op + " " + outcome
		if summaries != nil {
			line += " " + summary
		}
		got = append([]string{line}, got...)
	}
	var want []string
	for i, op := range ops {
		line := "local " + op + " ok"
		if summaries != nil {
			line += " " + summaries[i]
		}
		want = append(want, line)
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("audit trail ends with %q, want %q", got, want)
	}
}

// testAuditFollow runs `audit follow` and sees an action recorded after it
// started arrive as a JSON line.
func testAuditFollow(t *testing.T, o *operator) {
	lines, stop := o.follow("audit", "follow", "--every", "100ms", "--last", "1", "--json")
	defer stop()
	deadline := time.After(time.Minute)
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("audit follow exited")
			}
			return l
		case <-deadline:
			t.Fatal("audit follow printed nothing new within a minute")
		}
		return ""
	}
	next() // the newest entry so far
	if _, stderr, code := o.run(nil, "", nil, "vault", "create", "followed"); code != 0 {
		t.Fatalf("vault create: %s", stderr)
	}
	for {
		var e struct{ Operation, Vault string }
		if json.Unmarshal([]byte(next()), &e); e.Operation == "create-vault" && e.Vault == "followed" {
			return
		}
	}
}
