-- After the index builds: what kind of relation holds the name $1 in the current
-- schema (r table, v view, S sequence, …), when the index of that name is still
-- missing. Reads pg_class.
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'
                      WHEN 'c' THEN 'type' ELSE 'relation' END
  FROM pg_class c
 WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
