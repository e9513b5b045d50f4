-- The online no-loss proof, before side, for one legacy table ($1): the keys the
-- application wrote after the before-image's snapshot ($2, pg_current_snapshot() text)
-- from profochat_saas.change_log, each by its first and last entry. The first entry's
-- old_hash is the row as the snapshot saw it (NULL: no row held the key). Returns the
-- before-image ($3 rows, $4 hash) without those rows, and how many keys the
-- application inserted (no row before, one now), updated (a row before and now),
-- deleted (a row before, none now) and inserted then deleted again (none before or now).
WITH e AS (
    SELECT l.key, l.action, l.old_hash, l.change_id
      FROM profochat_saas.change_log l
     WHERE l.table_name = $1 AND NOT pg_visible_in_snapshot(l.txid, $2::text::pg_snapshot)
), first AS (
    SELECT DISTINCT ON (key) key, old_hash FROM e ORDER BY key, change_id
), last AS (
    SELECT DISTINCT ON (key) key, action FROM e ORDER BY key, change_id DESC
), k AS (
    SELECT f.old_hash IS NOT NULL AS held_before, l.action <> 'deleted' AS held_now, f.old_hash
      FROM first f JOIN last l USING (key)
)
SELECT $3::int8 - count(*) FILTER (WHERE held_before),
       ($4::text::numeric - coalesce(sum(old_hash), 0))::text,
       count(*) FILTER (WHERE NOT held_before AND held_now),
       count(*) FILTER (WHERE held_before AND held_now),
       count(*) FILTER (WHERE held_before AND NOT held_now),
       count(*) FILTER (WHERE NOT held_before AND NOT held_now)
  FROM k
