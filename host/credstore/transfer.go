package credstore

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/seal"
	"github.com/agent-vault/agent-vault/host/store"
)

// Lease transfer: a replica that needs the values of a lease another live
// replica owns asks the owner for them over the database's notification
// channel (store.PublishLeaseMessage, cluster.Watcher.Message). Nothing is
// stored: a notification lives only until every listener has read it. The
// request is sealed with the instance key (only replicas that unlocked it
// can ask, and the asker's one-time public key stays hidden); the answer
// is encrypted to that one-time X25519 key and sealed with the instance
// key too, so what passes through PostgreSQL cannot be opened later even
// by someone who learns the instance key. See LEASES.md.

// transferTimeout bounds the wait for an owner's answer (a variable for
// tests).
var transferTimeout = 5 * time.Second

// Transfer limits.
const (
	// maxTransferAge refuses requests older than this (replays).
	maxTransferAge = time.Minute
	// maxNotifyPayload is PostgreSQL's limit on a notification payload,
	// less a margin.
	maxNotifyPayload = 7900
)

// errNotOwner: the replica asked does not own the lease (any more).
var errNotOwner = errors.New("not the lease's owner")

type transferMsg struct {
	Type string `json:"t"` // want, give or fail
	To   string `json:"to"`
	From string `json:"from"`
	ID   string `json:"id"`
	Box  []byte `json:"box,omitempty"`
	Code string `json:"code,omitempty"`
}

type wantBody struct {
	Vault  string `json:"vault"`
	Secret string `json:"secret"`
	Pub    []byte `json:"pub"`
	At     int64  `json:"at"`
}

type giveBody struct {
	Pub    []byte `json:"pub"`
	Sealed []byte `json:"sealed"`
}

type leaseBody struct {
	RowID     string            `json:"row_id"`
	LeaseID   string            `json:"lease_id"`
	Values    map[string]string `json:"values"`
	ExpiresAt int64             `json:"expires_at"`
	TTLMillis int64             `json:"ttl_ms"`
	Renewable bool              `json:"renewable"`
}

func transferAAD(typ, to, from, id string) []byte {
	return seal.AAD("lease_transfer", typ, to, from, id)
}

// fetch asks row's owner for the lease's values.
func (l *leases) fetch(ctx context.Context, cs store.CredentialStore, row store.LeaseRow) (*lease, error) {
	me := l.m.cfg.InstanceID
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	id := store.NewID()
	body, _ := json.Marshal(wantBody{Vault: row.VaultID, Secret: row.SecretName, Pub: priv.PublicKey().Bytes(), At: l.m.cfg.Now().UnixMilli()})
	box, err := l.m.cfg.Keyring.Seal(body, transferAAD("want", row.InstanceID, me, id))
	if err != nil {
		return nil, err
	}
	answer := make(chan transferMsg, 1)
	l.waiters.Store(id, answer)
	defer l.waiters.Delete(id)
	if err := l.publish(ctx, transferMsg{Type: "want", To: row.InstanceID, From: me, ID: id, Box: box}); err != nil {
		return nil, err
	}
	var msg transferMsg
	select {
	case msg = <-answer:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(transferTimeout):
		return nil, domain.Errorf(CodeLeaseUnavailable, "dynamic secret %q: the replica owning its lease did not answer within %v", row.SecretName, transferTimeout)
	}
	if msg.Type == "fail" {
		if msg.Code == "not_owner" {
			return nil, errNotOwner
		}
		return nil, domain.Errorf(CodeLeaseUnavailable, "dynamic secret %q: the replica owning its lease could not hand it over (%s)", row.SecretName, msg.Code)
	}
	opened, err := l.m.cfg.Keyring.Open(msg.Box, transferAAD("give", me, msg.From, id))
	if err != nil {
		return nil, domain.Errorf(CodeLeaseUnavailable, "dynamic secret %q: a lease handed over did not open", row.SecretName)
	}
	var gb giveBody
	if err := json.Unmarshal(opened, &gb); err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().NewPublicKey(gb.Pub)
	if err != nil {
		return nil, err
	}
	plain, err := openOneTime(priv, peer, id, gb.Sealed)
	if err != nil {
		return nil, domain.Errorf(CodeLeaseUnavailable, "dynamic secret %q: a lease handed over did not open", row.SecretName)
	}
	var lb leaseBody
	if err := json.Unmarshal(plain, &lb); err != nil {
		return nil, err
	}
	for k := range lb.Values {
		if err := domain.CheckKey(k); err != nil {
			return nil, domain.Errorf(domain.CodeExternalInvalidKey, "dynamic secret %q handed over an invalid key", row.SecretName)
		}
	}
	return &lease{rowID: lb.RowID, leaseID: lb.LeaseID, values: lb.Values, expires: time.UnixMilli(lb.ExpiresAt),
		ttl: time.Duration(lb.TTLMillis) * time.Millisecond, renewable: lb.Renewable, kind: cs.Kind, config: cs.Config}, nil
}

// HandleLeaseMessage takes a message of the cluster's lease channel: a
// request for a lease this replica owns, or the answer to one it sent.
// It never blocks.
func (m *Manager) HandleLeaseMessage(payload string) {
	var msg transferMsg
	if json.Unmarshal([]byte(payload), &msg) != nil || msg.To != m.cfg.InstanceID {
		return
	}
	switch msg.Type {
	case "want":
		go m.leases.serve(msg)
	case "give", "fail":
		if ch, ok := m.leases.waiters.Load(msg.ID); ok {
			select {
			case ch.(chan transferMsg) <- msg:
			default:
			}
		}
	}
}

// LeasesChanged is told by the cluster watcher which vault's data changed
// on some replica ("" for all): see leases.changed.
func (m *Manager) LeasesChanged(vaultID string) { m.leases.changed(vaultID) }

// serve answers a request for a lease's values, when this replica owns
// the lease; it renews or replaces the lease first when it is near expiry.
func (l *leases) serve(req transferMsg) {
	me := l.m.cfg.InstanceID
	plain, err := l.m.cfg.Keyring.Open(req.Box, transferAAD("want", me, req.From, req.ID))
	if err != nil {
		l.m.log.Warn("a lease request that did not open was ignored", "from", req.From)
		return
	}
	var wb wantBody
	if json.Unmarshal(plain, &wb) != nil {
		return
	}
	now := l.m.cfg.Now()
	if at := time.UnixMilli(wb.At); now.Sub(at) > maxTransferAge || at.Sub(now) > maxTransferAge {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	fail := func(code string) {
		l.publish(ctx, transferMsg{Type: "fail", To: req.From, From: me, ID: req.ID, Code: code})
	}
	row, found, err := l.m.cfg.Store.CurrentLease(ctx, wb.Vault, wb.Secret)
	if err != nil {
		fail("database_error")
		return
	}
	if !found || row.InstanceID != me {
		fail("not_owner")
		return
	}
	cs, p, err := l.m.dynamicStore(ctx, wb.Vault)
	if err != nil || p == nil {
		fail("not_dynamic")
		return
	}
	le, err := l.get(ctx, cs, p, wb.Secret)
	if err != nil {
		fail(cmp.Or(domain.CodeOf(err), "lease_failed"))
		return
	}
	if !le.owned {
		fail("not_owner")
		return
	}
	if err := l.m.cfg.Store.MarkLeaseShared(ctx, le.rowID); err != nil {
		fail("database_error")
		return
	}
	body, _ := json.Marshal(leaseBody{RowID: le.rowID, LeaseID: le.leaseID, Values: le.values, ExpiresAt: le.expires.UnixMilli(),
		TTLMillis: le.ttl.Milliseconds(), Renewable: le.renewable})
	peer, err := ecdh.X25519().NewPublicKey(wb.Pub)
	if err != nil {
		return
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return
	}
	sealed, err := sealOneTime(priv, peer, req.ID, body)
	if err != nil {
		return
	}
	gb, _ := json.Marshal(giveBody{Pub: priv.PublicKey().Bytes(), Sealed: sealed})
	box, err := l.m.cfg.Keyring.Seal(gb, transferAAD("give", req.From, me, req.ID))
	if err != nil {
		return
	}
	if err := l.publish(ctx, transferMsg{Type: "give", To: req.From, From: me, ID: req.ID, Box: box}); errors.Is(err, errTooLarge) {
		fail("lease_too_large_to_hand_over")
	}
}

var errTooLarge = errors.New("lease message too large for a notification")

func (l *leases) publish(ctx context.Context, msg transferMsg) error {
	b, _ := json.Marshal(msg)
	if len(b) > maxNotifyPayload {
		return errTooLarge
	}
	return l.m.cfg.Store.PublishLeaseMessage(ctx, string(b))
}

// oneTimeKey derives an AES-256 key from an X25519 exchange, bound to the
// transfer's id.
func oneTimeKey(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, id string) (cipher.AEAD, error) {
	shared, err := priv.ECDH(peer)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, shared, []byte(id), "agent-vault lease transfer", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealOneTime(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, id string, plain []byte) ([]byte, error) {
	aead, err := oneTimeKey(priv, peer, id)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func openOneTime(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, id string, sealed []byte) ([]byte, error) {
	aead, err := oneTimeKey(priv, peer, id)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
}
