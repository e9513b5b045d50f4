-- Online prepare: whether each legacy table holds exactly the rows the preflight's
-- snapshot ($1, pg_current_snapshot() as text) saw, in one statement (one instant for
-- the eight tables). Per table: `seen`, the row versions visible now that the snapshot
-- saw too (their inserting transaction, xmin, is visible in it), and `new`, the others.
-- A row updated or deleted since the snapshot is no longer visible as the version it
-- saw, and an inserted or updated one is new: the table is unchanged exactly when
-- `seen` equals the snapshot's count and `new` is 0 (the caller compares).
--
-- xmin is a 32-bit transaction id. A row whose xmin precedes the snapshot's xmin
-- (`age` counts back from the same transaction for both) was committed before the
-- snapshot began: seen, without more. The few others get the exact test: xmin widened
-- to 64 bits next to the snapshot's xmax (within 2^31 of it), then
-- pg_visible_in_snapshot. Ids 0-2 (frozen, bootstrap) are always seen. A row frozen
-- long ago may be judged new by the widening, never the reverse: an error only ever
-- makes the caller run the analysis again.
WITH s AS (
    SELECT $1::text::pg_snapshot AS snap,
           pg_snapshot_xmax($1::text::pg_snapshot)::text::int8 AS xmax8,
           age((pg_snapshot_xmin($1::text::pg_snapshot)::text::int8 % 4294967296)::text::xid) AS min_age
)
SELECT r.table_name,
       count(*) FILTER (WHERE r.seen) AS seen,
       count(*) FILTER (WHERE NOT r.seen) AS new
  FROM (
              SELECT 'conversation' AS table_name, xmin AS x FROM conversation
    UNION ALL SELECT 'run', xmin FROM run
    UNION ALL SELECT 'waiting_element', xmin FROM waiting_element
    UNION ALL SELECT 'course', xmin FROM course
    UNION ALL SELECT 'course_element', xmin FROM course_element
    UNION ALL SELECT 'courseparticipants', xmin FROM courseparticipants
    UNION ALL SELECT 'bannedparticipants', xmin FROM bannedparticipants
    UNION ALL SELECT 'gen_settings', xmin FROM gen_settings
  ) v(table_name, x)
  CROSS JOIN s
  CROSS JOIN LATERAL (
      SELECT v.table_name,
             CASE WHEN age(v.x) > s.min_age OR v.x::text::int8 < 3 THEN true
                  ELSE pg_visible_in_snapshot(
                           (s.xmax8 + ((v.x::text::int8 - s.xmax8 % 4294967296 + 6442450944) % 4294967296 - 2147483648))::text::xid8,
                           s.snap)
             END AS seen
  ) r
 GROUP BY r.table_name
