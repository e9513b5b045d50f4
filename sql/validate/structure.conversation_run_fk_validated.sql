-- conversation_run_id_fkey exists but is NOT VALID: conversation rows may point at
-- runs that do not exist (expected after a migration with --orphans keep).
WITH bad AS (
    SELECT con.conname
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relname = 'conversation'
       AND con.conname = 'conversation_run_id_fkey' AND NOT con.convalidated
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('conversation.%s is NOT VALID', conname) FROM bad LIMIT 10) AS examples;
