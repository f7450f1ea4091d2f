// Package audit is the audit trail's contract: what an entry holds, how the
// entries are hash-chained, how a chain is verified, and which API
// operations write an entry (Operations). host/store keeps the entries;
// host/api records one for every audited operation it serves.
//
// # The chain
//
// Every entry carries the hash of the entry before it (PrevHash) and its own
// Hash, the hex SHA-256 of a fixed text: the line "agent-vault audit v1",
// then each field in the order of Entry's declaration, as its length in
// bytes, a colon, the field, a newline (numbers in decimal, the time in Unix
// milliseconds). Length prefixes make the encoding unambiguous whatever a
// field contains. The first entry's PrevHash is empty, or, once retention has
// pruned older entries, the anchor: the hash of the last pruned entry.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Entry is one administrative action. Summary is what changed, by name
// (an encoded Summary; entries recorded before Summary existed hold other
// JSON objects), never a credential value. It is kept and hashed as the
// exact bytes recorded, so every entry verifies whatever its shape.
type Entry struct {
	Seq        int64           `json:"seq"`
	Time       time.Time       `json:"time"`
	ActorKind  string          `json:"actor_kind"`
	ActorID    string          `json:"actor_id"`
	ActorName  string          `json:"actor_name"`
	ClientAddr string          `json:"client_addr"`
	Operation  string          `json:"operation"`
	Vault      string          `json:"vault"`
	Target     string          `json:"target"`
	Outcome    string          `json:"outcome"`
	Status     int             `json:"status"`
	Summary    json.RawMessage `json:"summary,omitempty"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// Outcome of an action that succeeded; a failed one carries its error code.
const OutcomeOK = "ok"

// Actor kinds besides the API's (user, agent, session, anonymous).
const (
	// ActorSystem is the server itself: scheduled syncs, retention, the
	// proxy revoking a session after an egress block.
	ActorSystem = "system"
	// ActorLocal is a person at the server's machine using a command that
	// opens the database directly (master-password), server stopped.
	ActorLocal = "local"
)

// ComputeHash returns the hash e should carry given its fields and PrevHash.
func (e *Entry) ComputeHash() string {
	h := sha256.New()
	h.Write([]byte("agent-vault audit v1\n"))
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	field(strconv.FormatInt(e.Seq, 10))
	field(strconv.FormatInt(e.Time.UnixMilli(), 10))
	field(e.ActorKind)
	field(e.ActorID)
	field(e.ActorName)
	field(e.ClientAddr)
	field(e.Operation)
	field(e.Vault)
	field(e.Target)
	field(e.Outcome)
	field(strconv.Itoa(e.Status))
	field(string(e.Summary))
	field(e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets e's Seq, PrevHash and Hash as the entry after (prevSeq,
// prevHash); its time is cut to milliseconds, the stored precision.
func (e *Entry) Seal(prevSeq int64, prevHash string) {
	e.Seq = prevSeq + 1
	e.Time = time.UnixMilli(e.Time.UnixMilli()).UTC()
	e.PrevHash = prevHash
	e.Hash = e.ComputeHash()
}
