-- Check after phase 5 when the indexes are built inside the transaction
-- (--single-transaction): invalid secondary indexes (0 expected). Reads pg_index.
SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname LIKE 'idx\_%' AND NOT i.indisvalid
