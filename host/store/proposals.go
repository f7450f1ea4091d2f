package store

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// Proposal is a change set an agent asked for, awaiting a human's decision.
// Spec is its JSON (services and credential slots); it never holds a value.
type Proposal struct {
	ID          string
	VaultID     string
	Status      string
	CreatorKind string
	CreatorID   string
	CreatorName string
	Message     string
	UserMessage string
	Spec        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
	DecidedAt   *time.Time
	DecidedBy   string
	Reason      string
}

const proposalCols = `id, vault_id, status, creator_kind, creator_id, creator_name, message, user_message, spec,
	created_at, expires_at, decided_at, decided_by, reason`

func scanProposal(row interface{ Scan(...any) error }) (Proposal, error) {
	var p Proposal
	var spec string
	var created, expires int64
	var decided sql.NullInt64
	err := row.Scan(&p.ID, &p.VaultID, &p.Status, &p.CreatorKind, &p.CreatorID, &p.CreatorName, &p.Message, &p.UserMessage,
		&spec, &created, &expires, &decided, &p.DecidedBy, &p.Reason)
	p.Spec, p.CreatedAt, p.ExpiresAt, p.DecidedAt = []byte(spec), msToTime(created), msToTime(expires), nullMsToTime(decided)
	return p, err
}

// CreateProposal inserts a pending proposal (p.ID chosen by the caller, who
// sealed values against it) with its sealed values. It refuses with
// too_many_pending_proposals when the vault already holds maxPending
// pending proposals; the count and the insert share one transaction.
func (s *Store) CreateProposal(ctx context.Context, p Proposal, values map[string][]byte, maxPending int) (Proposal, error) {
	now := s.now()
	p.Status, p.CreatedAt = domain.ProposalPending, msToTime(now.UnixMilli())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM proposals WHERE vault_id = ? AND status = 'pending'`, p.VaultID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPending {
			return domain.Errorf(domain.CodeTooManyProposals,
				"this vault already has %d pending proposals (the limit); wait for a human to approve or reject some", n)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO proposals (`+proposalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', '')`,
			p.ID, p.VaultID, p.Status, p.CreatorKind, p.CreatorID, p.CreatorName, p.Message, p.UserMessage, string(p.Spec),
			now.UnixMilli(), p.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(values)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO proposal_values (proposal_id, key, sealed) VALUES (?, ?, ?)`, p.ID, k, values[k]); err != nil {
				return err
			}
		}
		return nil
	})
	return p, err
}

// ProposalByID finds a proposal in a vault.
func (s *Store) ProposalByID(ctx context.Context, vaultID, id string) (Proposal, error) {
	p, err := scanProposal(s.db.QueryRowContext(ctx, `SELECT `+proposalCols+` FROM proposals WHERE id = ? AND vault_id = ?`, id, vaultID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound(domain.CodeNotFound, "no proposal %q in this vault", id)
	}
	return p, err
}

// ListProposals lists a vault's proposals, newest first, optionally of one
// status, at most limit.
func (s *Store) ListProposals(ctx context.Context, vaultID, status string, limit int) ([]Proposal, error) {
	q := `SELECT ` + proposalCols + ` FROM proposals WHERE vault_id = ?`
	args := []any{vaultID}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at DESC, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Proposal{}
	for rows.Next() {
		p, err := scanProposal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ProposalValues returns the sealed values an agent supplied, by key.
func (s *Store) ProposalValues(ctx context.Context, id string) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, sealed FROM proposal_values WHERE proposal_id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var b []byte
		if err := rows.Scan(&k, &b); err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, rows.Err()
}

// ProposalChanges is what approving a proposal writes to its vault.
type ProposalChanges struct {
	UpsertServices    []ServiceRow
	DeleteServices    []string
	PutCredentials    map[string][]byte // sealed for the vault
	DeleteCredentials []string
	// RequireKeys must all be credential rows of the vault once the changes
	// are applied (the keys the proposal's services reference that no
	// dynamic secret provides).
	RequireKeys []string
	// NewServices and NewCredentials must not exist when the changes are
	// applied: the approver confirmed no replacement of them.
	NewServices    []string
	NewCredentials []string
}

// ApproveProposal marks a pending proposal approved and applies its changes
// in the same transaction: all of it happens or none. A proposal that is no
// longer pending (or has passed its expiry) gets proposal_not_pending; a
// service or credential to delete that is gone, or a required key that is
// missing afterwards, gets invalid_proposal.
func (s *Store) ApproveProposal(ctx context.Context, vaultID, id, decidedBy string, ch ProposalChanges) error {
	now := s.millis()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := decide(ctx, tx, vaultID, id, domain.ProposalApproved, decidedBy, "", now); err != nil {
			return err
		}
		for _, n := range ch.NewServices {
			if err := mustBeAbsent(ctx, tx, `SELECT COUNT(*) FROM services WHERE vault_id = ? AND name = ?`, vaultID, n, "service"); err != nil {
				return err
			}
		}
		for _, k := range ch.NewCredentials {
			if err := mustBeAbsent(ctx, tx, `SELECT COUNT(*) FROM credentials WHERE vault_id = ? AND key = ?`, vaultID, k, "credential"); err != nil {
				return err
			}
		}
		for _, n := range ch.DeleteServices {
			res, err := tx.ExecContext(ctx, `DELETE FROM services WHERE vault_id = ? AND name = ?`, vaultID, n)
			if err := mustAffect(res, err, domain.CodeInvalidProposal, "service %q is no longer in this vault", n); err != nil {
				return err
			}
		}
		if err := upsertServices(ctx, tx, vaultID, ch.UpsertServices); err != nil {
			return err
		}
		for _, k := range ch.DeleteCredentials {
			res, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE vault_id = ? AND key = ?`, vaultID, k)
			if err := mustAffect(res, err, domain.CodeInvalidProposal, "credential %q is no longer in this vault", k); err != nil {
				return err
			}
		}
		if err := putCredentials(ctx, tx, vaultID, ch.PutCredentials, now); err != nil {
			return err
		}
		for _, k := range ch.RequireKeys {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials WHERE vault_id = ? AND key = ?`, vaultID, k).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return domain.Errorf(domain.CodeInvalidProposal, "a proposed service needs credential %q, which this vault does not hold", k)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM proposal_values WHERE proposal_id = ?`, id)
		return err
	})
}

// mustBeAbsent fails with proposal_change_unconfirmed when the row that
// query counts exists.
func mustBeAbsent(ctx context.Context, tx *sql.Tx, query, vaultID, name, what string) error {
	var n int
	if err := tx.QueryRowContext(ctx, query, vaultID, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return domain.Errorf(domain.CodeProposalChangeUnconfirmed, "%s %q was created after the review; approving would replace it: review the proposal again", what, name)
	}
	return nil
}

// RejectProposal marks a pending proposal rejected with a reason.
func (s *Store) RejectProposal(ctx context.Context, vaultID, id, decidedBy, reason string) error {
	now := s.millis()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := decide(ctx, tx, vaultID, id, domain.ProposalRejected, decidedBy, reason, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM proposal_values WHERE proposal_id = ?`, id)
		return err
	})
}

// decide moves a pending, unexpired proposal to status, or explains why not.
func decide(ctx context.Context, tx *sql.Tx, vaultID, id, status, by, reason string, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE proposals SET status = ?, decided_at = ?, decided_by = ?, reason = ?
		WHERE id = ? AND vault_id = ? AND status = 'pending' AND expires_at > ?`, status, now, by, reason, id, vaultID, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var cur string
	var expires int64
	err = tx.QueryRowContext(ctx, `SELECT status, expires_at FROM proposals WHERE id = ? AND vault_id = ?`, id, vaultID).Scan(&cur, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(domain.CodeNotFound, "no proposal %q in this vault", id)
	}
	if err != nil {
		return err
	}
	if cur == domain.ProposalPending {
		cur = domain.ProposalExpired // past its expiry; the job has not run yet
	}
	return domain.Errorf(domain.CodeProposalNotPending, "proposal %q is %s, not pending", id, cur)
}

// ExpireProposals marks every pending proposal past its expiry as expired,
// drops the values agents supplied with them, and reports how many expired.
func (s *Store) ExpireProposals(ctx context.Context) (int64, error) {
	now := s.millis()
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM proposal_values WHERE proposal_id IN
			(SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= ?)`, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE proposals SET status = 'expired', decided_at = ? WHERE status = 'pending' AND expires_at <= ?`, now, now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
