-- A legacy waiting element (created_at NULL) points at the newest run of its chat,
-- bot and course among the runs that existed at the migration. Rows written later
-- may rightly point at other runs, so they are not checked. An online migration in
-- progress counts: its switch validates before it is recorded as completed. $1: the
-- statuses of a migration that changed the legacy tables and was not undone
-- (MigrationStatus::begun).
WITH first_migration AS (
    SELECT coalesce(min(started_at), 'infinity') AS started_at
      FROM profochat_saas.migration
     WHERE status = ANY ($1::text[])
), newest AS (
    SELECT r.chat_id, r.bot_id, r.course_id, max(r.run_id) AS run_id
      FROM run r, first_migration f
     WHERE r.chat_id IS NOT NULL AND (r.date_inserted IS NULL OR r.date_inserted <= f.started_at)
     GROUP BY r.chat_id, r.bot_id, r.course_id
), bad AS (
    SELECT w.waiting_element_id, w.run_id, n.run_id AS newest
      FROM waiting_element w
      -- Equality on chat and bot lets the join hash; course_id may be NULL on both sides.
      JOIN newest n ON n.chat_id = w.chat_id AND n.bot_id = w.bot_id AND n.course_id IS NOT DISTINCT FROM w.course_id
     WHERE w.created_at IS NULL AND w.run_id IS DISTINCT FROM n.run_id
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('waiting_element_id %s: run_id %s, but the newest run is %s',
                           waiting_element_id, coalesce(run_id::text, 'NULL'), newest)
               FROM bad ORDER BY waiting_element_id LIMIT 10) AS examples;
