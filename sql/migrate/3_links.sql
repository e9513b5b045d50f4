-- Phase 3: links. Every legacy row gets its bot, deployment and run; rows of renamed
-- course copies follow them; duplicates under the new unique keys go to the archive.
-- The tool runs this file statement by statement (src/migrate/work.rs): the work tables
-- it creates or writes are indexed and ANALYZEd before the next statement reads them.
-- reads: mig_course_map, mig_params, mig_run_deactivate
-- creates: mig_deployment, mig_moved_runs

-- Runs, waiting elements and conversations of renamed copies follow their course
-- (pg_temp.follow_renamed_copies: helpers.sql).
CREATE TEMP TABLE mig_moved_runs (run_id int4 PRIMARY KEY, old_id text, new_course_id text) ON COMMIT DROP;
INSERT INTO mig_moved_runs
SELECT row_key, old_id, new_course_id FROM pg_temp.follow_renamed_copies('run', 'run_id', 'botname', 'mig_course_map', 'mig_params');
SELECT count(*) FROM pg_temp.follow_renamed_copies('waiting_element', 'waiting_element_id', 'botname', 'mig_course_map', 'mig_params');

-- A conversation row belongs to the copy of its run's bot.
WITH moved AS (
    UPDATE conversation c SET course_id = m.new_course_id
      FROM mig_moved_runs m
     WHERE c.run_id = m.run_id AND c.course_id = m.old_id
    RETURNING c.conversation_id, m.old_id, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'conversation', 'updated',
       jsonb_build_object('conversation_id', conversation_id), jsonb_build_object('course_id', old_id),
       format('course %s renamed to %s for the bot of this run', old_id, new_course_id)
  FROM moved;

-- The deployments phase 2 made, by (course, bot): course_deployment has no keys yet
-- (phase 4 adds them), so the run update below reads this indexed copy.
CREATE TEMP TABLE mig_deployment ON COMMIT DROP AS
SELECT course_id, bot_id, deployment_id FROM course_deployment WHERE account_id = 1 AND environment = 'prod';

-- Runs: bot, deployment, and is_active = not ended (only the newest unfinished run
-- of a chat on a bot stays active). Runs without a course keep deployment_id NULL.
UPDATE run r
   SET bot_id = x.bot_id,
       deployment_id = x.deployment_id,
       is_active = x.is_active
  FROM (
        SELECT r2.run_id, b.bot_id, d.deployment_id,
               (r2.is_ended IS NOT TRUE AND z.run_id IS NULL) AS is_active
          FROM run r2
          JOIN bot b ON b.account_id = 1 AND b.bot_name = coalesce(r2.botname, (SELECT default_bot FROM mig_params))
          LEFT JOIN mig_deployment d ON d.course_id = r2.course_id AND d.bot_id = b.bot_id
          LEFT JOIN mig_run_deactivate z ON z.run_id = r2.run_id
       ) x
 WHERE r.run_id = x.run_id
   AND (r.bot_id IS DISTINCT FROM x.bot_id OR r.deployment_id IS DISTINCT FROM x.deployment_id
        OR r.is_active IS DISTINCT FROM x.is_active);

INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'run', 'updated',
       jsonb_build_object('run_id', z.run_id), jsonb_build_object('is_active', true),
       'deactivated: a newer unfinished run of the same chat on the same bot stays active'
  FROM mig_run_deactivate z;

-- Waiting elements: bot, and the newest run of the same chat, course and bot.
UPDATE waiting_element w
   SET bot_id = x.bot_id, run_id = x.run_id
  FROM (
        SELECT DISTINCT ON (w2.waiting_element_id) w2.waiting_element_id, b.bot_id, r.run_id
          FROM waiting_element w2
          JOIN bot b ON b.account_id = 1 AND b.bot_name = coalesce(w2.botname, (SELECT default_bot FROM mig_params))
          LEFT JOIN run r ON r.chat_id = w2.chat_id AND r.bot_id = b.bot_id
                         AND coalesce(r.course_id, chr(1)) = coalesce(w2.course_id, chr(1))
         ORDER BY w2.waiting_element_id, r.run_id DESC
       ) x
 WHERE w.waiting_element_id = x.waiting_element_id
   AND (w.bot_id IS DISTINCT FROM x.bot_id OR w.run_id IS DISTINCT FROM x.run_id);

-- Bans, participants and settings: the backfill statements the online migration runs
-- in batches (online/backfill_{bannedparticipants,courseparticipants,gen_settings}.sql),
-- run once over every key; phase 3 (steps/backfill.rs, Links) runs them after this file, with
-- mig_batch holding the whole range and every row linked again (relink).
