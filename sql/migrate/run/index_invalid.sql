-- Whether secondary index $1 exists but is invalid (left by an interrupted concurrent
-- build): it is dropped and built again. Reads pg_index.
SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
