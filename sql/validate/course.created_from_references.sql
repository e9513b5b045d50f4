-- Courses the migration created because rows named a course_id with no course row
-- (courses kept in YAML files). $1: the metadata that marks them.
SELECT (SELECT count(*) FROM course WHERE metadata @> $1::text::jsonb)::int8 AS offending,
       ARRAY(SELECT format('%L (account %s)', course_id, account_id)
               FROM course WHERE metadata @> $1::text::jsonb ORDER BY account_id, course_id LIMIT 10) AS examples;
