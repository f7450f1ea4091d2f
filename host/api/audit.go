package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"

	"github.com/agent-vault/agent-vault/host/audit"
	"github.com/agent-vault/agent-vault/host/authz"
	"github.com/danielgtaylor/huma/v2"
)

// auditNote is what a handler tells the audit trail about its call beyond
// what the middleware sees: the vault (set by access), a better target, a
// before/after summary by name, the error code, or the actor of a call that
// signs someone in.
type auditNote struct {
	vault   string
	target  string
	summary map[string]any
	code    string
	actor   *authz.Actor
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

// noteSummary adds a field to the entry's summary: names, roles, counts,
// before and after; never a credential value.
func noteSummary(ctx context.Context, key string, value any) {
	if n := noteFrom(ctx); n != nil {
		if n.summary == nil {
			n.summary = map[string]any{}
		}
		n.summary[key] = value
	}
}

// noteChange records a field's value before and after the call.
func noteChange(ctx context.Context, field string, before, after any) {
	if n := noteFrom(ctx); n != nil {
		if n.summary == nil {
			n.summary = map[string]any{}
		}
		for k, v := range map[string]any{"before": before, "after": after} {
			m, _ := n.summary[k].(map[string]any)
			if m == nil {
				m = map[string]any{}
				n.summary[k] = m
			}
			m[field] = v
		}
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
		Summary:    audit.Summarize(n.summary),
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
	noteSummary(ctx, "keys", names)
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
	noteSummary(ctx, "value_macs", macs)
}
