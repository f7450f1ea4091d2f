package api_test

import (
	"context"
	"testing"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/store"
)

// TestEveryOperationIsAuditedOrReadOnly walks every registered operation,
// as the permission matrix does: each must be declared in audit.Operations;
// called by a caller the policy allows, an audited one must append exactly
// one entry naming it (whatever its outcome) and a read-only one must
// change no table at all. A new operation fails here until it is declared,
// and a declaration that does not hold fails too.
func TestEveryOperationIsAuditedOrReadOnly(t *testing.T) {
	ops := registeredOperations(t)
	for _, id := range ops {
		if _, ok := audit.Operations[id]; !ok {
			t.Errorf("operation %q is not declared in audit.Operations (audited or read-only)", id)
		}
	}
	for id := range audit.Operations {
		if !contains(ops, id) {
			t.Errorf("audit.Operations declares %q, which is not a registered operation", id)
		}
	}
	ctx := context.Background()
	for _, id := range ops {
		t.Run(id, func(t *testing.T) {
			f := newMatrixFixture(t)
			req, ok := f.requests()[id]
			if !ok {
				t.Fatalf("no request for operation %q in the matrix test", id)
			}
			caller := ""
			for _, c := range authz.MatrixCallers {
				if authz.Decide(id, c.Actor, c.VaultRole) == nil {
					caller = c.Name
					break
				}
			}
			if caller == "" {
				t.Fatalf("no caller may call %q", id)
			}
			head, err := f.st.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			print, err := f.st.Fingerprint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			status, body := f.do(req.method, req.path, f.tokens[caller], req.body)
			switch audit.Operations[id] {
			case audit.Audited:
				after, err := f.st.AuditHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if after.Seq != head.Seq+1 {
					t.Fatalf("%s as %s answered %d %s and appended %d audit entries, want 1", id, caller, status, body, after.Seq-head.Seq)
				}
				rows, _, err := f.st.ListAudit(ctx, store.AuditQuery{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				e := rows[0]
				if e.Operation != id || e.Status != status || e.Outcome == "" || e.ActorKind == "" || e.Target == "" {
					t.Errorf("entry %+v does not describe the call (%s as %s → %d)", e, id, caller, status)
				}
				if status < 400 && e.Outcome != audit.OutcomeOK || status >= 400 && e.Outcome == audit.OutcomeOK {
					t.Errorf("status %d recorded with outcome %q", status, e.Outcome)
				}
				if _, ok := audit.DecodeSummary(e.Summary); status < 400 && !ok && summaryless[id] == "" {
					t.Errorf("%s succeeded (%d) and recorded no summary of what changed (%s); record one, or say in summaryless why its target says it all", id, status, e.Summary)
				}
				if _, b, err := f.st.VerifyAudit(ctx); err != nil || b != nil {
					t.Errorf("chain after %s: %v %v", id, b, err)
				}
			case audit.ReadOnly:
				now, err := f.st.Fingerprint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if now != print {
					t.Errorf("%s is declared read-only, but calling it as %s (%d) changed the database:\nbefore %s\nafter  %s", id, caller, status, print, now)
				}
			default:
				t.Fatalf("%s: unknown audit class", id)
			}
		})
	}
}

// summaryless are the audited operations whose entry says everything by
// its operation and target: nothing with a before and after changed.
var summaryless = map[string]string{
	"login":                "a sign-in: the actor and the outcome say it",
	"logout":               "a sign-out: the actor says whose",
	"revoke-session":       "the target names the session revoked",
	"revoke-my-session":    "the target names the session revoked",
	"revoke-login-session": "the target names the sign-in ended",
	"revoke-user-session":  "the target names the sign-in ended",
}
