-- The online no-loss proof, after side, for one legacy table: the reconstruction of
-- the table as it was before migration $1 (src/fingerprint.rs: the table now, the
-- archived changes reverted; $3 rows, $4 hash) without the rows whose key the
-- application wrote after the before-image's snapshot ($2). A template that
-- src/migrate/changes.rs fills in per table:
--   {{name}} the table as a literal, {{table}} quoted, {{names}} its legacy columns and
--   {{key_names}} its key columns as literals; {{t_in_k}}, {{t_is_m}}, {{r_is_u}},
--   {{r_is_i}} match a row's key with a key in the log or the archive; {{rkey}} and
--   {{hash}} are the key (as the log writes it) and the fingerprint hash of the row
--   x.p; {{moved_key}} the key an archived update puts back on its row.
-- The rows left out are exactly those the reconstruction holds under a key in the log:
-- a current row with its archived update put back (a renamed course is found by its
-- key before the rename), or an archived deleted row; a row the archive says the
-- migration inserted is not in the reconstruction, so it is not left out either.
WITH k AS (
    SELECT DISTINCT l.key
      FROM profochat_saas.change_log l
     WHERE l.table_name = {{name}} AND NOT pg_visible_in_snapshot(l.txid, $2::text::pg_snapshot)
), upd AS (
    SELECT a.key, a.row
      FROM profochat_saas.archive a
     WHERE a.migration_id = $1 AND a.table_name = {{name}} AND a.action = 'updated'
       AND a.row ?| ARRAY[{{names}}]
), ins AS (
    SELECT a.key
      FROM profochat_saas.archive a
     WHERE a.migration_id = $1 AND a.table_name = {{name}} AND a.action = 'inserted'
), moved AS (
    -- Rows whose archived update puts back a key column, to a key in the log.
    SELECT m.key FROM upd m
     WHERE m.row ?| ARRAY[{{key_names}}] AND {{moved_key}} IN (SELECT key FROM k)
), cand AS (
    SELECT t AS r FROM {{table}} t JOIN k ON {{t_in_k}}
    UNION ALL
    SELECT t AS r FROM moved m JOIN {{table}} t ON {{t_is_m}}
     WHERE NOT EXISTS (SELECT 1 FROM k WHERE {{t_in_k}})
), held AS (
    SELECT CASE WHEN u.row IS NULL THEN c.r ELSE jsonb_populate_record(c.r, u.row) END AS p
      FROM cand c
      LEFT JOIN upd u ON {{r_is_u}}
     WHERE NOT EXISTS (SELECT 1 FROM ins i WHERE {{r_is_i}})
    UNION ALL
    SELECT jsonb_populate_record(NULL::{{table}}, a.row) AS p
      FROM profochat_saas.archive a
     WHERE a.migration_id = $1 AND a.table_name = {{name}} AND a.action = 'deleted'
), x AS (
    SELECT p FROM held x WHERE {{rkey}} IN (SELECT key FROM k)
)
SELECT $3::int8 - count(*), ($4::text::numeric - coalesce(sum({{hash}}), 0))::text FROM x
