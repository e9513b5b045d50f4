-- Phase 5 with --single-transaction: builds secondary index $1 with definition $2
-- ("ON table (columns) …") unless it exists (pg_temp.ensure_index, sql/migrate/helpers.sql).
SELECT pg_temp.ensure_index($1, $2)
