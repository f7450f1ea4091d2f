-- Change notifications exist for PostgreSQL only (see
-- postgres/0070_change_notifications.sql): a SQLite database has one
-- process, which invalidates its own caches as it writes.
SELECT 1;
