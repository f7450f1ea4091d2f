package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/store"
	"github.com/danielgtaylor/huma/v2"
)

// auditNote is what a handler tells the audit trail about its call beyond
// what the middleware sees: the vault (set by access), a better target, a
// before/after summary by name, the error code, or the actor of a call that
// signs someone in.
type auditNote struct {
	vault   string
	target  string
	summary audit.Summary
	// diffed: the call compared a thing before and after (noteDiff), so an
	// empty summary means it changed nothing, and says so.
	diffed bool
	code   string
	actor  *authz.Actor
}

type auditKey struct{}

func noteFrom(ctx context.Context) *auditNote {
	n, _ := ctx.Value(auditKey{}).(*auditNote)
	return n
}

// noteTarget names what an audited call acted on (a user's email, a key
// list) when the path alone says less.
func noteTarget(ctx context.Context, target string) {
	if n := noteFrom(ctx); n != nil {
		n.target = target
	}
}

// noteChange records a field's value before and after the call (nil:
// absent), when they differ: names, roles, numbers, flags; never a value.
func noteChange(ctx context.Context, field string, before, after any) {
	if n := noteFrom(ctx); n != nil {
		n.summary.Set(field, before, after)
	}
}

// noteDiff records the fields that differ between two views of one thing
// (see audit.Summary.Diff); a nil view is a thing that did not exist.
func noteDiff(ctx context.Context, prefix string, before, after any) {
	if n := noteFrom(ctx); n != nil {
		n.summary.Diff(prefix, before, after)
		n.diffed = true
	}
}

// noteSecret records that a secret (a password) changed, without a value.
func noteSecret(ctx context.Context, field string) {
	if n := noteFrom(ctx); n != nil {
		n.summary.Secret(field)
	}
}

// noteActor names who acted when the token did not say (a sign-in: the
// person signing in, or, when it failed, the email tried).
func noteActor(ctx context.Context, a authz.Actor) {
	if n := noteFrom(ctx); n != nil {
		n.actor = &a
	}
}

// auditTrail is the middleware that writes the audit entry of every
// operation audit.Operations marks audited, after the handler has run, with
// the outcome the caller saw. It runs after authenticate, so the caller is
// known.
func (s *server) auditTrail(ctx huma.Context, next func(huma.Context)) {
	o := ctx.Operation()
	if audit.Operations[o.OperationID] != audit.Audited {
		next(ctx)
		return
	}
	n := &auditNote{}
	ctx = huma.WithValue(ctx, auditKey{}, n)
	next(ctx)
	a := actorFrom(ctx.Context())
	if n.actor != nil {
		a = *n.actor
	}
	status := ctx.Status()
	if a.Kind == authz.Anonymous && (!authz.Policy[o.OperationID].Public || n.actor == nil && n.code == "") {
		// Nobody acted (see audit.Audited), or a public operation's input
		// was refused before its handler ran: an anonymous flood of bad
		// requests must not grow the trail.
		return
	}
	if status < 400 && n.diffed && n.summary.IsZero() {
		n.summary.Note = "no change"
	}
	e := audit.Entry{
		ActorKind:  string(a.Kind),
		ActorID:    a.ID,
		ActorName:  a.Name,
		ClientAddr: clientIP(ctx.RemoteAddr()),
		Operation:  o.OperationID,
		Vault:      n.vault,
		Target:     n.target,
		Status:     status,
		Outcome:    audit.OutcomeOK,
		Summary:    n.summary.Encode(),
	}
	if e.Target == "" {
		e.Target = pathTarget(o, ctx)
	}
	if status >= 400 {
		e.Outcome = n.code
		if e.Outcome == "" {
			e.Outcome = codeForStatus(status)
		}
	}
	s.Audit.Record(ctx.Context(), e)
}

// pathTarget is the operation's path with its parameters filled in, less
// the /v1/ prefix ("vaults/prod/services/stripe"); a token in the path
// (an invite's) is left out.
func pathTarget(o *huma.Operation, ctx huma.Context) string {
	p := strings.TrimPrefix(o.Path, "/v1/")
	for _, param := range o.Parameters {
		if param.In != "path" {
			continue
		}
		v := ctx.Param(param.Name)
		if param.Name == "token" {
			v = "…"
		}
		p = strings.ReplaceAll(p, "{"+param.Name+"}", v)
	}
	return p
}

// clientIP is the address part of "ip:port".
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// noteKeys records the credential keys a call names (names only; each
// cut to 64 bytes, at most 100 of them).
func noteKeys(ctx context.Context, keys []string) {
	names := make([]string, 0, min(len(keys), 100))
	for _, k := range keys[:min(len(keys), 100)] {
		if len(k) > 64 {
			k = k[:64] + "…"
		}
		names = append(names, k)
	}
	noteTarget(ctx, "credentials "+strings.Join(names, ","))
	if n := noteFrom(ctx); n != nil {
		n.summary.Keys = names
	}
}

// noteVault names the vault a call acts in when access did not resolve
// one (it is being created).
func noteVault(ctx context.Context, name string) {
	if n := noteFrom(ctx); n != nil {
		n.vault = name
		n.target = "vaults/" + name
	}
}

// auditMACMetaKey names the instance's value-MAC key in the meta table.
const auditMACMetaKey = "audit_value_mac_key"

// auditMACKey is the instance's key for the value MACs of audit entries:
// 32 random bytes, sealed under the data encryption key in the database,
// created by the first use (replicas agree on the first one written).
func (s *server) auditMACKey(ctx context.Context) ([]byte, error) {
	s.macMu.Lock()
	defer s.macMu.Unlock()
	if s.macKey != nil {
		return s.macKey, nil
	}
	aad := []byte(auditMACMetaKey)
	sealed, ok, err := s.Store.Meta(ctx, auditMACMetaKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		key := make([]byte, 32)
		rand.Read(key)
		if sealed, err = s.Keyring.Seal(key, aad); err != nil {
			return nil, err
		}
		if _, err := s.Store.InsertMetaIfAbsent(ctx, auditMACMetaKey, sealed); err != nil {
			return nil, err
		}
		if sealed, _, err = s.Store.Meta(ctx, auditMACMetaKey); err != nil {
			return nil, err
		}
	}
	key, err := s.Keyring.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	s.macKey = key
	return key, nil
}

// noteValueMACs records, per key, an HMAC-SHA256 of the value set, keyed
// by the instance's audit key: two entries with the same MAC set the same
// value, which nobody can tell from the entries alone nor guess offline
// without the key (sealed under the DEK). The value itself is never kept.
func (s *server) noteValueMACs(ctx context.Context, values map[string]string) {
	if noteFrom(ctx) == nil {
		return
	}
	key, err := s.auditMACKey(ctx)
	if err != nil {
		s.Logger.WarnContext(ctx, "audit value MACs left out", "error", err)
		return
	}
	macs := make(map[string]string, len(values))
	for k, v := range values {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(v))
		macs[k] = hex.EncodeToString(m.Sum(nil))[:32]
	}
	noteFrom(ctx).summary.ValueMACs = macs
}

// noteInviteVaults records the vault roles an invite grants on joining.
func noteInviteVaults(ctx context.Context, vaults []store.InviteVault) {
	for _, g := range vaults {
		noteChange(ctx, "vaults."+g.VaultName, nil, string(g.Role))
	}
}

// auditGrant runs a change to one principal's grant in a vault, names the
// grant as the call's target, and records the principal's role in the
// vault before and after (none: absent).
func (s *server) auditGrant(ctx context.Context, v store.Vault, kind store.PrincipalKind, id, name string, change func() error) error {
	noteTarget(ctx, "vaults/"+v.Name+"/"+string(kind)+"s/"+name)
	before, _ := s.Store.VaultRole(ctx, v.ID, kind, id)
	if err := change(); err != nil {
		return err
	}
	after, _ := s.Store.VaultRole(ctx, v.ID, kind, id)
	noteChange(ctx, "role", roleOrNil(before), roleOrNil(after))
	return nil
}

func roleOrNil(r domain.VaultRole) any {
	if r == "" {
		return nil
	}
	return string(r)
}

// noteEnded records how many sign-ins a call ended.
func noteEnded(ctx context.Context, n int) {
	if nt := noteFrom(ctx); nt != nil {
		nt.summary.Note = fmt.Sprintf("%d sign-ins ended", n)
	}
}
