-- The online no-loss proof, before side, for one legacy table ($1): the keys the
-- application wrote after the before-image's snapshot ($2, pg_current_snapshot() text)
-- from profochat_saas.change_log, each by its first and last entry. The first entry
-- gives the row as the snapshot saw it: 'inserted' means it did not exist, otherwise
-- old_hash is its hash. Returns the before-image ($3 rows, $4 hash) without those
-- rows, and how many keys the application inserted, updated, deleted, and inserted
-- then deleted (counted by first and last entry).
WITH e AS (
    SELECT l.key, l.action, l.old_hash, l.change_id
      FROM profochat_saas.change_log l
     WHERE l.table_name = $1 AND NOT pg_visible_in_snapshot(l.txid, $2::text::pg_snapshot)
), first AS (
    SELECT DISTINCT ON (key) key, action, old_hash FROM e ORDER BY key, change_id
), last AS (
    SELECT DISTINCT ON (key) key, action FROM e ORDER BY key, change_id DESC
), k AS (
    SELECT f.action AS first_action, f.old_hash, l.action AS last_action
      FROM first f JOIN last l USING (key)
)
SELECT $3::int8 - count(*) FILTER (WHERE first_action <> 'inserted'),
       ($4::text::numeric - coalesce(sum(old_hash) FILTER (WHERE first_action <> 'inserted'), 0))::text,
       count(*) FILTER (WHERE first_action = 'inserted' AND last_action <> 'deleted'),
       count(*) FILTER (WHERE first_action <> 'inserted' AND last_action <> 'deleted'),
       count(*) FILTER (WHERE first_action <> 'inserted' AND last_action = 'deleted'),
       count(*) FILTER (WHERE first_action = 'inserted' AND last_action = 'deleted')
  FROM k
