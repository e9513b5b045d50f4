-- A waiting element's run, when set, is a run of the same chat, bot, course and account.
WITH bad AS (
    SELECT w.waiting_element_id, w.run_id, w.chat_id, w.bot_id, w.course_id,
           r.run_id AS found, r.chat_id AS r_chat, r.bot_id AS r_bot, r.course_id AS r_course
      FROM waiting_element w
      LEFT JOIN run r ON r.run_id = w.run_id
     WHERE w.run_id IS NOT NULL
       AND (r.run_id IS NULL
            OR r.chat_id IS DISTINCT FROM w.chat_id
            OR (w.bot_id IS NOT NULL AND r.bot_id IS DISTINCT FROM w.bot_id) -- without bot_id: links.without_bot_id
            OR r.course_id IS DISTINCT FROM w.course_id
            OR r.account_id <> w.account_id)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT CASE WHEN found IS NULL
                         THEN format('waiting_element_id %s: run_id %s does not exist', waiting_element_id, run_id)
                         ELSE format('waiting_element_id %s (chat %s, bot_id %s, course %L): run_id %s is chat %s, bot_id %s, course %L',
                                     waiting_element_id, coalesce(chat_id::text, 'NULL'), bot_id, course_id,
                                     run_id, coalesce(r_chat::text, 'NULL'), r_bot, r_course)
                    END
               FROM bad ORDER BY waiting_element_id LIMIT 10) AS examples;
