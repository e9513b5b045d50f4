-- Online backfill of conversation, one batch: the conversation rows of the runs whose
-- run_id is in [lo, hi) of mig_batch (the rows that change are those of runs on a
-- renamed course copy, found through idx_conversation_run, built by the indexes step
-- before). Reads mig_params and mig_course_map (restore.sql); runs are backfilled
-- already. As phase 3 does: a row belongs to the copy of its run's bot, so it follows a
-- renamed copy; the old value goes to the archive.
-- reads: mig_batch, mig_course_map, mig_params
WITH moved AS (
    UPDATE conversation c SET course_id = m.new_course_id
      FROM run r, mig_course_map m
     WHERE r.run_id >= (SELECT lo FROM mig_batch) AND r.run_id < (SELECT hi FROM mig_batch)
       AND r.course_id = m.new_course_id AND coalesce(r.botname, (SELECT default_bot FROM mig_params)) = m.bot_name
       AND c.run_id = r.run_id AND c.course_id = m.course_id AND c.account_id = 1
    RETURNING c.conversation_id, m.course_id AS old_id, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'conversation', 'updated',
       jsonb_build_object('conversation_id', conversation_id), jsonb_build_object('course_id', old_id),
       format('course %s renamed to %s for the bot of this run', old_id, new_course_id)
  FROM moved;
