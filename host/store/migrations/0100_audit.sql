-- The audit trail: one row per administrative action, hash-chained. Each
-- row's hash covers its fields and the previous row's hash (see
-- host/audit), so an edited or deleted row breaks the chain. audit_head
-- (one row, id 1, created by the first append) holds the newest seq and
-- hash, so deleting the newest rows is detected too, and the anchor: the
-- seq and hash of the last row retention pruned, where verification starts.
-- Appends lock the head row, so replicas sharing a database take turns.

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_name  TEXT NOT NULL DEFAULT '',
    client_addr TEXT NOT NULL DEFAULT '',
    operation   TEXT NOT NULL,
    vault       TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    summary     TEXT NOT NULL DEFAULT '',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    anchor_seq  INTEGER NOT NULL DEFAULT 0,
    anchor_hash TEXT NOT NULL DEFAULT ''
);
