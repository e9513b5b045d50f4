-- Online backfill of waiting_element, one batch: waiting_element_id in [lo, hi) of
-- mig_batch. Reads mig_params and mig_course_map (restore.sql); runs are linked already
-- (their backfill comes first) and indexed by (bot_id, chat_id). As phase 3 does:
-- elements of renamed course copies follow their course; each gets its bot and the
-- newest run of the same chat, course and bot.
-- Elements of renamed course copies follow their course (pg_temp.follow_renamed_copies:
-- helpers.sql, which restore.sql creates in the backfill's session).
-- reads: mig_batch, mig_course_map, mig_params
SELECT count(*) FROM pg_temp.follow_renamed_copies('waiting_element', 'waiting_element_id', 'botname', 'mig_course_map', 'mig_params', 'mig_batch');

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
