-- What an online migration leaves once it is completed, when its cleanup step (after
-- the switch) was interrupted: the change log's triggers and table, the temporary
-- index on run (chat_id), the backfill's analysis tables and the progress record.
-- None of it belongs to a completed migration; `migrate` removes it (online.rs,
-- `cleanup`). Nothing is reported while a migration is in progress: it is its own.
-- One row per kind: what, how many (the progress record is counted by the caller:
-- its table may not exist).
SELECT 'change-log triggers' AS what, count(*)::int8 AS n
  FROM pg_trigger WHERE tgname = 'profochat_saas_change_log'
UNION ALL
SELECT 'the change-log table profochat_saas.change_log', (to_regclass('profochat_saas.change_log') IS NOT NULL)::int::int8
UNION ALL
SELECT 'the temporary index profochat_saas_run_chat', (to_regclass('profochat_saas_run_chat') IS NOT NULL)::int::int8
UNION ALL
SELECT 'backfill analysis tables', count(*)::int8
  FROM unnest(ARRAY['profochat_saas.online_params', 'profochat_saas.online_course_map', 'profochat_saas.online_run_deactivate',
                    'profochat_saas.online_ban_dups', 'profochat_saas.online_participant_dups', 'profochat_saas.online_orphans']) t
 WHERE to_regclass(t) IS NOT NULL
