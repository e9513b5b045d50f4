-- Courses that existed before the first migration belong to the default account (all
-- of them, when no migration is recorded). An online migration in progress counts: its
-- switch validates before it is recorded as completed. $1: the statuses of a migration
-- that changed the legacy tables and was not undone (MigrationStatus::begun).
WITH first_migration AS (
    SELECT min(started_at) AS started_at
      FROM profochat_saas.migration
     WHERE status = ANY ($1::text[])
), bad AS (
    SELECT c.course_id, c.bot_name, c.account_id
      FROM course c, first_migration f
     WHERE c.account_id IS DISTINCT FROM 1
       AND (f.started_at IS NULL OR c.date_created IS NULL OR c.date_created <= f.started_at)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('course %L (bot %L) is in account %s', course_id, bot_name, account_id)
               FROM bad ORDER BY course_id, bot_name LIMIT 10) AS examples;
