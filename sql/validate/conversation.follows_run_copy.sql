-- A conversation row belongs to the course copy of its run's bot (SPEC §3): where the
-- run is on a renamed copy, the row has that copy's id, not the legacy id the copy was
-- renamed from. Every row of a run on a renamed copy is checked. The renames are the
-- archive's (kept after `finish`): a course row's old course_id, keyed by the new one.
-- Compared as text: upstream's 0004 makes course_id an integer.
WITH renamed AS (
    SELECT DISTINCT a.key ->> 'course_id' AS course_id, a.row ->> 'course_id' AS legacy_course_id
      FROM profochat_saas.archive a
     WHERE a.table_name = 'course' AND a.action = 'updated' AND a.row ? 'course_id'
       AND a.key ->> 'course_id' <> a.row ->> 'course_id'
), bad AS (
    SELECT c.conversation_id, c.course_id, r.run_id, r.course_id AS run_course
      FROM renamed n
      JOIN run r ON r.course_id::text = n.course_id AND r.account_id = 1
      JOIN conversation c ON c.run_id = r.run_id AND c.course_id::text = n.legacy_course_id AND c.account_id = 1
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('conversation_id %s: course %L, but its run %s is on the renamed copy %L', conversation_id, course_id, run_id, run_course)
               FROM bad ORDER BY conversation_id LIMIT 10) AS examples;
