-- Online backfill of conversation, one batch: conversation_id in [lo, hi) of mig_batch.
-- Reads mig_params, mig_course_map (restore.sql) and profochat_saas.online_orphans;
-- runs are backfilled already. As phase 3 does: a row belongs to the copy of its run's
-- bot (it follows a renamed copy), and (--orphans detach) a run_id that names no run
-- becomes NULL, the old value kept for the legacy interface and in the archive.
WITH moved AS (
    UPDATE conversation c SET course_id = m.new_course_id
      FROM run r, mig_course_map m
     WHERE c.conversation_id >= (SELECT lo FROM mig_batch) AND c.conversation_id < (SELECT hi FROM mig_batch)
       AND c.account_id = 1 AND r.run_id = c.run_id
       AND c.course_id = m.course_id AND r.course_id = m.new_course_id
       AND coalesce(r.botname, (SELECT default_bot FROM mig_params)) = m.bot_name
    RETURNING c.conversation_id, m.course_id AS old_id, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'conversation', 'updated',
       jsonb_build_object('conversation_id', conversation_id), jsonb_build_object('course_id', old_id),
       format('course %s renamed to %s for the bot of this run', old_id, new_course_id)
  FROM moved;
