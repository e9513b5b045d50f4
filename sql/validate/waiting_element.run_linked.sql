-- A waiting element gets the newest run of its chat, course and bot (SPEC §3); one
-- written since the migration (created_at set), when it is written. This counts those
-- that have no run_id although such a run had been inserted by then: a write the
-- compatibility layer or the backfill failed to link. Every such row is checked (the
-- legacy rows, created_at NULL: waiting_element.run_is_newest).
WITH bad AS (
    SELECT w.waiting_element_id, w.chat_id, w.course_id, w.bot_id,
           (SELECT max(r.run_id) FROM run r
             WHERE r.chat_id = w.chat_id AND r.bot_id = w.bot_id AND r.course_id IS NOT DISTINCT FROM w.course_id
               AND (r.date_inserted IS NULL OR r.date_inserted <= w.created_at)) AS existing
      FROM waiting_element w
     WHERE w.run_id IS NULL AND w.bot_id IS NOT NULL AND w.chat_id IS NOT NULL AND w.created_at IS NOT NULL
)
SELECT (SELECT count(*) FROM bad WHERE existing IS NOT NULL)::int8 AS offending,
       ARRAY(SELECT format('waiting_element_id %s (chat %s, bot_id %s, course %L): run_id NULL, but run %s exists',
                           waiting_element_id, chat_id, bot_id, course_id, existing)
               FROM bad WHERE existing IS NOT NULL ORDER BY waiting_element_id LIMIT 10) AS examples;
