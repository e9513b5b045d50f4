-- Online backfill of run, one batch: run_id in [lo, hi) of mig_batch. Reads mig_params,
-- mig_course_map (restore.sql) and profochat_saas.online_run_deactivate. As phase 3
-- (3_links.sql) does for the whole table: rows of renamed course copies follow their
-- course, every run gets its bot and deployment, and only the newest unfinished run of
-- a chat on a bot stays active. Each change is archived in the same transaction.
-- A row is done once it has its bot_id; with profochat_saas.relink on (a database
-- partly migrated by hand or by an older script, whose bot_ids cannot be trusted)
-- every row of the batch is linked again.
-- reads: mig_batch, mig_course_map, mig_params

-- A bot name first written between the analysis and the compatibility triggers.
INSERT INTO bot (account_id, bot_name, bot_token, display_name)
SELECT DISTINCT 1, n.bot_name,
       'profochat-saas-placeholder-' || md5(random()::text || clock_timestamp()::text || n.bot_name), n.bot_name
  FROM (SELECT coalesce(r.botname, (SELECT default_bot FROM mig_params)) AS bot_name
          FROM run r WHERE r.run_id >= (SELECT lo FROM mig_batch) AND r.run_id < (SELECT hi FROM mig_batch)
           AND r.bot_id IS NULL) n
 WHERE n.bot_name IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM bot b WHERE b.account_id = 1 AND b.bot_name = n.bot_name);

-- Runs of renamed course copies follow their course (pg_temp.follow_renamed_copies:
-- helpers.sql, which restore.sql creates in the backfill's session).
SELECT count(*) FROM pg_temp.follow_renamed_copies('run', 'run_id', 'botname', 'mig_course_map', 'mig_params', 'mig_batch');

-- A (course, bot) pair first written between the analysis and the compatibility triggers.
-- The batch's distinct pairs first: each is then looked up by the whole key, not every
-- deployment of its bot once per run.
INSERT INTO course_deployment (course_id, account_id, bot_id, environment)
SELECT p.course_id, 1, p.bot_id, 'prod'
  FROM (SELECT DISTINCT r.course_id, b.bot_id
          FROM run r JOIN bot b ON b.account_id = 1 AND b.bot_name = coalesce(r.botname, (SELECT default_bot FROM mig_params))
         WHERE r.run_id >= (SELECT lo FROM mig_batch) AND r.run_id < (SELECT hi FROM mig_batch)
           AND (r.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND r.account_id = 1 AND r.course_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM course c WHERE c.course_id = r.course_id AND c.account_id = 1)) p
 WHERE NOT EXISTS (SELECT 1 FROM course_deployment d
                    WHERE d.course_id = p.course_id AND d.account_id = 1 AND d.bot_id = p.bot_id AND d.environment = 'prod');

WITH linked AS (
    UPDATE run r
       SET bot_id = b.bot_id,
           deployment_id = d.deployment_id,
           is_active = (r.is_ended IS NOT TRUE AND z.run_id IS NULL)
      FROM run r2
      JOIN bot b ON b.account_id = 1 AND b.bot_name = coalesce(r2.botname, (SELECT default_bot FROM mig_params))
      LEFT JOIN course_deployment d
             ON d.course_id = r2.course_id AND d.account_id = 1 AND d.bot_id = b.bot_id AND d.environment = 'prod'
      -- Bounded by the batch like the runs, so that no batch reads the whole table.
      LEFT JOIN (SELECT run_id FROM profochat_saas.online_run_deactivate
                  WHERE run_id >= (SELECT lo FROM mig_batch) AND run_id < (SELECT hi FROM mig_batch)) z ON z.run_id = r2.run_id
     WHERE r.run_id = r2.run_id
       AND r2.run_id >= (SELECT lo FROM mig_batch) AND r2.run_id < (SELECT hi FROM mig_batch)
       AND (r2.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND r2.account_id = 1
       AND (r.bot_id IS DISTINCT FROM b.bot_id OR r.deployment_id IS DISTINCT FROM d.deployment_id
            OR r.is_active IS DISTINCT FROM (r.is_ended IS NOT TRUE AND z.run_id IS NULL))
    RETURNING r.run_id, z.run_id AS deactivated
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'run', 'updated',
       jsonb_build_object('run_id', run_id), jsonb_build_object('is_active', true),
       'deactivated: a newer unfinished run of the same chat on the same bot stays active'
  FROM linked WHERE deactivated IS NOT NULL;
