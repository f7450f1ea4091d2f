-- The request log loses its index on at. Only the retention job used it,
-- every ten minutes, while every proxied request paid to maintain it:
-- about a tenth of the CPU of writing a row. Retention now scans the table
-- for rows older than its cutoff, outside the write lock (see
-- PruneRequestLogs). Its per-vault row cap already walks up to MaxRows
-- entries of every vault, so the job stays linear in what retention keeps.

DROP INDEX request_logs_at;
