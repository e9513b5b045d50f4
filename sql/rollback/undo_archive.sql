-- `migrate --abort` online, one batch of the archive pass for one legacy table: the
-- archived changes of migration $1 with archive_id in [$2, $3) undone. The batches go
-- down the archive (the newest change first: the backfills in reverse step order), so
-- that where a value was changed twice the oldest, the legacy value, is the one left.
-- A template that src/rollback/online.rs fills in per table: {{table}} quoted, {{name}}
-- as a literal, {{list}} its legacy columns, {{picks}} the same of p, {{names}} as
-- literals, {{km}} the match of a row t with an archive key a.key. Each row is found by
-- its primary key; the entries by archive_id. Settings (SET LOCAL, by the batch's
-- transaction: src/rollback/online/passes.rs BATCH_PLAN): enable_hashjoin and
-- enable_mergejoin off, so that a batch's few hundred entries look their rows up by
-- primary key whatever the planner estimates for the jsonb aggregate (a hash join would
-- read the whole table once per batch).
-- Values the migration changed come back (several entries of one row in the batch:
-- per column the oldest).
WITH kv AS (
    SELECT DISTINCT ON (e.key, j.k) e.key, j.k, j.v
      FROM profochat_saas.archive e CROSS JOIN LATERAL jsonb_each(e.row) j(k, v)
     WHERE e.archive_id >= $2 AND e.archive_id < $3 AND e.migration_id = $1
       AND e.table_name = {{name}} AND e.action = 'updated' AND j.k = ANY (ARRAY[{{names}}])
     ORDER BY e.key, j.k, e.archive_id
), a AS (
    SELECT kv.key, jsonb_object_agg(kv.k, kv.v) AS row FROM kv GROUP BY kv.key
)
UPDATE {{table}} t SET ({{list}}) = (SELECT {{picks}} FROM jsonb_populate_record(NULL::{{table}}, to_jsonb(t) || a.row) p)
  FROM a
 WHERE {{km}};
-- Rows the migration deleted (collapsed duplicates) come back as they were.
INSERT INTO {{table}} ({{list}})
SELECT {{picks}}
  FROM profochat_saas.archive a CROSS JOIN LATERAL jsonb_populate_record(NULL::{{table}}, a.row) p
 WHERE a.archive_id >= $2 AND a.archive_id < $3 AND a.migration_id = $1
   AND a.table_name = {{name}} AND a.action = 'deleted'
ON CONFLICT DO NOTHING;
-- Rows the migration added to the table go.
DELETE FROM {{table}} t
 USING profochat_saas.archive a
 WHERE a.archive_id >= $2 AND a.archive_id < $3 AND a.migration_id = $1
   AND a.table_name = {{name}} AND a.action = 'inserted' AND {{km}};
