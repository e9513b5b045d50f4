-- Online switch or abort: the analysis's decisions kept for the backfill (persist.sql)
-- are no longer needed, nor this session's views of them (restore.sql).
-- drops: mig_ban_dups, mig_orphans, mig_participant_dups
DROP VIEW IF EXISTS pg_temp.mig_ban_dups, pg_temp.mig_participant_dups, pg_temp.mig_orphans;
DROP TABLE IF EXISTS profochat_saas.online_params, profochat_saas.online_course_map,
    profochat_saas.online_run_deactivate, profochat_saas.online_ban_dups,
    profochat_saas.online_participant_dups, profochat_saas.online_orphans;
