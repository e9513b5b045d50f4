-- Online prepare, when the legacy tables are exactly as the preflight's snapshot saw them
-- (analysis_unchanged.sql): the analysis tables of this transaction from the copies the
-- preflight kept (analysis_keep.sql) instead of running analysis.sql again; the same rows
-- as analysis.sql would compute, since it reads nothing but the legacy tables and
-- mig_params (made again by params.sql, with the migration's id, before this file).
-- creates: mig_ban_dups, mig_bot_source, mig_bots, mig_conversation_stats, mig_counts, mig_course_bot_refs, mig_course_copy, mig_course_map, mig_course_plan, mig_course_refs, mig_missing_course, mig_null_bot, mig_null_course, mig_orphans, mig_participant_dups, mig_run_deactivate, mig_run_dup_groups
CREATE TEMP TABLE mig_ban_dups ON COMMIT DROP AS TABLE pg_temp.preflight_ban_dups;
CREATE TEMP TABLE mig_bot_source ON COMMIT DROP AS TABLE pg_temp.preflight_bot_source;
CREATE TEMP TABLE mig_bots ON COMMIT DROP AS TABLE pg_temp.preflight_bots;
CREATE TEMP TABLE mig_conversation_stats ON COMMIT DROP AS TABLE pg_temp.preflight_conversation_stats;
CREATE TEMP TABLE mig_counts ON COMMIT DROP AS TABLE pg_temp.preflight_counts;
CREATE TEMP TABLE mig_course_bot_refs ON COMMIT DROP AS TABLE pg_temp.preflight_course_bot_refs;
CREATE TEMP TABLE mig_course_copy ON COMMIT DROP AS TABLE pg_temp.preflight_course_copy;
CREATE TEMP TABLE mig_course_map ON COMMIT DROP AS TABLE pg_temp.preflight_course_map;
CREATE TEMP TABLE mig_course_plan ON COMMIT DROP AS TABLE pg_temp.preflight_course_plan;
CREATE TEMP TABLE mig_course_refs ON COMMIT DROP AS TABLE pg_temp.preflight_course_refs;
CREATE TEMP TABLE mig_missing_course ON COMMIT DROP AS TABLE pg_temp.preflight_missing_course;
CREATE TEMP TABLE mig_null_bot ON COMMIT DROP AS TABLE pg_temp.preflight_null_bot;
CREATE TEMP TABLE mig_null_course ON COMMIT DROP AS TABLE pg_temp.preflight_null_course;
CREATE TEMP TABLE mig_orphans ON COMMIT DROP AS TABLE pg_temp.preflight_orphans;
CREATE TEMP TABLE mig_participant_dups ON COMMIT DROP AS TABLE pg_temp.preflight_participant_dups;
CREATE TEMP TABLE mig_run_deactivate ON COMMIT DROP AS TABLE pg_temp.preflight_run_deactivate;
CREATE TEMP TABLE mig_run_dup_groups ON COMMIT DROP AS TABLE pg_temp.preflight_run_dup_groups;
CREATE UNIQUE INDEX ON mig_course_map (course_id, bot_name);
