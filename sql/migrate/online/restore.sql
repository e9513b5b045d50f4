-- Online backfill, at the start of each session after prepare: the analysis's
-- decisions (persist.sql) as the session-local tables the backfill statements read,
-- and mig_batch, the key range of the batch under way.
DROP TABLE IF EXISTS pg_temp.mig_params, pg_temp.mig_course_map, pg_temp.mig_batch;
CREATE TEMP TABLE mig_params AS TABLE profochat_saas.online_params;
CREATE TEMP TABLE mig_course_map AS TABLE profochat_saas.online_course_map;
CREATE UNIQUE INDEX ON mig_course_map (course_id, bot_name);
ANALYZE mig_course_map;
CREATE TEMP TABLE mig_batch (lo int8 NOT NULL, hi int8 NOT NULL);
INSERT INTO mig_batch VALUES (0, 0);
