-- The online no-loss proof, after side, for one legacy table: the reconstruction of
-- the table as it was before migration $1 (src/fingerprint.rs: the table now, the
-- archived changes reverted; $3 rows, $4 hash) without the rows whose key the
-- application wrote after the before-image's snapshot ($2). A template that
-- src/migrate/changes.rs fills in per table:
--   {{name}} the table as a literal, {{table}} quoted, {{names}} its legacy columns and
--   {{key_names}} its key columns as literals; {{t_in_k}} and {{t_is_m}} match a row's
--   key with a key in the log or the archive; {{r_key}}, {{p_key}} and {{hash}} are the
--   key (as the log and the archive write it) of c.r and x.p and the fingerprint hash
--   of x.p; {{moved_key}} the key an archived update puts back on its row.
-- The work is proportional to the keys in the log (each looked up by index: the
-- table's primary key, the archive by key through archive_change_log_key) plus one
-- pass over the archived updates that put a key back (renamed courses), whatever the
-- planner's statistics say about the archive: the by-key lookups name the key alone
-- (each legacy table's key columns have their own names) and are kept apart (OFFSET 0)
-- from the other conditions, so that no other index of the archive can serve them.
-- The rows left out are exactly those the reconstruction holds under a key in the log:
-- a current row with its archived update put back (a renamed course is found by its
-- key before the rename), or an archived deleted row; a row the archive says the
-- migration inserted is not in the reconstruction, so it is not left out either.
WITH k AS MATERIALIZED (
    SELECT DISTINCT l.key
      FROM profochat_saas.change_log l
     WHERE l.table_name = {{name}} AND NOT pg_visible_in_snapshot(l.txid, $2::text::pg_snapshot)
), moved AS MATERIALIZED (
    -- Archived updates that put back a key column, with the key they put back.
    SELECT m.key, {{moved_key}} AS rkey
      FROM profochat_saas.archive m
     WHERE m.migration_id = $1 AND m.table_name = {{name}} AND m.action = 'updated'
       AND m.row ?| ARRAY[{{key_names}}]
), cand AS (
    -- Current rows named by a key in the log, or put back to a key in the log.
    SELECT t AS r, k.key AS from_key FROM k JOIN {{table}} t ON {{t_in_k}}
    UNION ALL
    SELECT t AS r, m.rkey AS from_key FROM moved m JOIN {{table}} t ON {{t_is_m}}
     WHERE m.rkey IN (SELECT key FROM k) AND NOT EXISTS (SELECT 1 FROM k WHERE {{t_in_k}})
), held AS (
    -- As the reconstruction holds them: the archived update put back; a row the
    -- migration inserted is not held. Then the archived deleted rows.
    SELECT coalesce((SELECT jsonb_populate_record(c.r, e.row)
                       FROM (SELECT ar.table_name, ar.migration_id, ar.action, ar.row, ar.archive_id
                               FROM profochat_saas.archive ar WHERE ar.key = {{r_key}} OFFSET 0) e
                      WHERE e.table_name = {{name}} AND e.migration_id = $1 AND e.action = 'updated'
                        AND e.row ?| ARRAY[{{names}}]
                      ORDER BY e.archive_id LIMIT 1), c.r) AS p,
           c.from_key
      FROM cand c
     WHERE NOT EXISTS (SELECT 1
                         FROM (SELECT ar.table_name, ar.migration_id, ar.action
                                 FROM profochat_saas.archive ar WHERE ar.key = {{r_key}} OFFSET 0) e
                        WHERE e.table_name = {{name}} AND e.migration_id = $1 AND e.action = 'inserted')
    UNION ALL
    SELECT jsonb_populate_record(NULL::{{table}}, e.row) AS p, k.key AS from_key
      FROM k CROSS JOIN LATERAL (SELECT ar.table_name, ar.migration_id, ar.action, ar.row
                                   FROM profochat_saas.archive ar WHERE ar.key = k.key OFFSET 0) e
     WHERE e.table_name = {{name}} AND e.migration_id = $1 AND e.action = 'deleted'
)
SELECT $3::int8 - count(*), ($4::text::numeric - coalesce(sum({{hash}}), 0))::text
  FROM held x
 WHERE {{p_key}} = x.from_key OR {{p_key}} IN (SELECT key FROM k)
