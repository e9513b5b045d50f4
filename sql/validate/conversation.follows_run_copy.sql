-- A conversation row belongs to the course copy of its run's bot (SPEC §3): where the
-- run is on a renamed copy, the row has that copy's id, not the legacy id the copy was
-- renamed from. Every row of a run on a renamed copy is checked.
WITH renamed AS (
    SELECT course_id, legacy_course_id FROM profochat_saas.legacy_course_name WHERE course_id <> legacy_course_id
), bad AS (
    SELECT c.conversation_id, c.course_id, r.run_id, r.course_id AS run_course
      FROM renamed n
      JOIN run r ON r.course_id = n.course_id AND r.account_id = 1
      JOIN conversation c ON c.run_id = r.run_id AND c.course_id = n.legacy_course_id AND c.account_id = 1
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('conversation_id %s: course %L, but its run %s is on the renamed copy %L', conversation_id, course_id, run_id, run_course)
               FROM bad ORDER BY conversation_id LIMIT 10) AS examples;
