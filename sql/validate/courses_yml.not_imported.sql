-- Courses created from references (they live in YAML files) with no content: no element
-- and nothing imported from a courses.yml. The application, which prefers a database
-- row to the file, shows them empty. $1: the metadata that marks them.
WITH bad AS (
    SELECT c.course_id, c.account_id
      FROM course c
     WHERE c.metadata @> $1::text::jsonb
       AND NOT c.metadata ? 'yaml_import'
       AND NOT EXISTS (SELECT 1 FROM course_element e WHERE e.course_id = c.course_id AND e.account_id = c.account_id)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%L (account %s)', course_id, account_id) FROM bad ORDER BY account_id, course_id LIMIT 10) AS examples;
