-- Runs inside a REPEATABLE READ transaction: its snapshot, for pg_dump --snapshot,
-- so that the dump and the facts recorded beside it show the same moment.
SELECT pg_export_snapshot()
