-- The request log loses its index on at (see ../0004_request_logs_at.sql).

DROP INDEX request_logs_at;
