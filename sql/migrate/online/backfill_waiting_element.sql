-- Online backfill of waiting_element, one batch: waiting_element_id in [lo, hi) of
-- mig_batch. Reads mig_params and mig_course_map (restore.sql); runs are linked already
-- (their backfill comes first) and indexed by (bot_id, chat_id). As phase 3 does:
-- elements of renamed course copies follow their course; each gets its bot and the
-- newest run of the same chat, course and bot.
WITH moved AS (
    UPDATE waiting_element w SET course_id = m.new_course_id
      FROM mig_course_map m
     WHERE w.waiting_element_id >= (SELECT lo FROM mig_batch) AND w.waiting_element_id < (SELECT hi FROM mig_batch)
       AND (w.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND w.account_id = 1
       AND w.course_id = m.course_id AND coalesce(w.botname, (SELECT default_bot FROM mig_params)) = m.bot_name
    RETURNING w.waiting_element_id, m.course_id AS old_id, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'waiting_element', 'updated',
       jsonb_build_object('waiting_element_id', waiting_element_id), jsonb_build_object('course_id', old_id),
       format('course %s renamed to %s for this bot', old_id, new_course_id)
  FROM moved;

UPDATE waiting_element w
   SET bot_id = x.bot_id, run_id = x.run_id
  FROM (
        SELECT w2.waiting_element_id, b.bot_id,
               (SELECT r.run_id FROM run r
                 WHERE r.bot_id = b.bot_id AND r.chat_id = w2.chat_id
                   AND coalesce(r.course_id, chr(1)) = coalesce(w2.course_id, chr(1))
                 ORDER BY r.run_id DESC LIMIT 1) AS run_id
          FROM waiting_element w2
          JOIN bot b ON b.account_id = 1 AND b.bot_name = coalesce(w2.botname, (SELECT default_bot FROM mig_params))
         WHERE w2.waiting_element_id >= (SELECT lo FROM mig_batch) AND w2.waiting_element_id < (SELECT hi FROM mig_batch)
           AND (w2.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND w2.account_id = 1
       ) x
 WHERE w.waiting_element_id = x.waiting_element_id;
