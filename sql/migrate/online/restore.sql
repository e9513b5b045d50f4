-- Online backfill, at the start of each session after prepare: the analysis's
-- decisions (persist.sql) as the session-local tables the backfill statements read,
-- and mig_batch, the key range of the batch under way.
--
-- mig_course_map is the legacy interface's live map of renamed course copies
-- (profochat_saas.legacy_course_map), not the analysis's copy: the legacy bot may
-- publish a merged course while the backfill runs, and the compatibility layer then
-- splits off that bot's copy under a new id; the rows the backfill links later follow it.
-- creates: mig_ban_dups, mig_batch, mig_course_map, mig_orphans, mig_params, mig_participant_dups
-- drops: mig_ban_dups, mig_batch, mig_course_map, mig_orphans, mig_params, mig_participant_dups
DROP VIEW IF EXISTS pg_temp.mig_course_map, pg_temp.mig_ban_dups, pg_temp.mig_participant_dups, pg_temp.mig_orphans;
DROP TABLE IF EXISTS pg_temp.mig_params, pg_temp.mig_course_map, pg_temp.mig_batch;
CREATE TEMP TABLE mig_params AS TABLE profochat_saas.online_params;
CREATE TEMP VIEW mig_ban_dups AS TABLE profochat_saas.online_ban_dups;
CREATE TEMP VIEW mig_participant_dups AS TABLE profochat_saas.online_participant_dups;
CREATE TEMP VIEW mig_orphans AS TABLE profochat_saas.online_orphans;
CREATE TEMP VIEW mig_course_map AS
SELECT legacy_course_id AS course_id, bot_name, course_id AS new_course_id
  FROM profochat_saas.legacy_course_map
 WHERE course_id <> legacy_course_id;
CREATE TEMP TABLE mig_batch (lo int8 NOT NULL, hi int8 NOT NULL);
INSERT INTO mig_batch VALUES (0, 0);
