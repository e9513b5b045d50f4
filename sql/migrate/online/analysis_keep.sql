-- Online preflight, after the analysis (analysis.sql) in its snapshot: copies of the
-- analysis tables that outlive the transaction (session temporary tables, not ON COMMIT
-- DROP), so that the prepare step of the same `migrate` can take them back
-- (analysis_reuse.sql) when the legacy tables have not changed since that snapshot
-- (analysis_unchanged.sql). Only temporary tables: nothing in the database changes.
-- reads: mig_ban_dups, mig_bot_source, mig_bots, mig_conversation_stats, mig_counts, mig_course_bot_refs, mig_course_copy, mig_course_map, mig_course_plan, mig_course_refs, mig_missing_course, mig_null_bot, mig_null_course, mig_orphans, mig_participant_dups, mig_run_deactivate, mig_run_dup_groups
DROP TABLE IF EXISTS pg_temp.preflight_ban_dups, pg_temp.preflight_bot_source, pg_temp.preflight_bots, pg_temp.preflight_conversation_stats, pg_temp.preflight_counts, pg_temp.preflight_course_bot_refs, pg_temp.preflight_course_copy, pg_temp.preflight_course_map, pg_temp.preflight_course_plan, pg_temp.preflight_course_refs, pg_temp.preflight_missing_course, pg_temp.preflight_null_bot, pg_temp.preflight_null_course, pg_temp.preflight_orphans, pg_temp.preflight_participant_dups, pg_temp.preflight_run_deactivate, pg_temp.preflight_run_dup_groups;
CREATE TEMP TABLE preflight_ban_dups AS TABLE mig_ban_dups;
CREATE TEMP TABLE preflight_bot_source AS TABLE mig_bot_source;
CREATE TEMP TABLE preflight_bots AS TABLE mig_bots;
CREATE TEMP TABLE preflight_conversation_stats AS TABLE mig_conversation_stats;
CREATE TEMP TABLE preflight_counts AS TABLE mig_counts;
CREATE TEMP TABLE preflight_course_bot_refs AS TABLE mig_course_bot_refs;
CREATE TEMP TABLE preflight_course_copy AS TABLE mig_course_copy;
CREATE TEMP TABLE preflight_course_map AS TABLE mig_course_map;
CREATE TEMP TABLE preflight_course_plan AS TABLE mig_course_plan;
CREATE TEMP TABLE preflight_course_refs AS TABLE mig_course_refs;
CREATE TEMP TABLE preflight_missing_course AS TABLE mig_missing_course;
CREATE TEMP TABLE preflight_null_bot AS TABLE mig_null_bot;
CREATE TEMP TABLE preflight_null_course AS TABLE mig_null_course;
CREATE TEMP TABLE preflight_orphans AS TABLE mig_orphans;
CREATE TEMP TABLE preflight_participant_dups AS TABLE mig_participant_dups;
CREATE TEMP TABLE preflight_run_deactivate AS TABLE mig_run_deactivate;
CREATE TEMP TABLE preflight_run_dup_groups AS TABLE mig_run_dup_groups;
