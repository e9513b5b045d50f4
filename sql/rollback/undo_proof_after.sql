-- The no-loss proof of the way back (`migrate --abort` online), after side, for one
-- legacy table: the table now ($2 rows, $3 hash: its fingerprint) without the rows held
-- under a key the application wrote after the before-image's snapshot ($1). Nothing of
-- the archive is reverted: the abort gave every archived change back, so the rows of
-- before must be there as they were. A template that src/migrate/changes.rs fills in
-- per table: {{name}} the table as a literal, {{table}} quoted, {{t_in_k}} the match of
-- a row t with a key in the log, {{hash}} the fingerprint hash of t. The work is
-- proportional to the keys in the log (each row found by the table's primary key).
WITH k AS MATERIALIZED (
    SELECT DISTINCT l.key
      FROM profochat_saas.change_log l
     WHERE l.table_name = {{name}} AND NOT pg_visible_in_snapshot(l.txid, $1::text::pg_snapshot)
)
SELECT $2::int8 - count(*), ($3::text::numeric - coalesce(sum({{hash}}), 0))::text
  FROM k JOIN {{table}} t ON {{t_in_k}}
