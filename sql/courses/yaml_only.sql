-- Courses the migration created from references (they live in YAML files), whether
-- their content was imported, and the bots they are deployed to. $1: the metadata
-- that marks them.
SELECT c.course_id,
       coalesce(c.metadata ? 'yaml_import', false) AS imported,
       ARRAY(SELECT b.bot_name FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
              WHERE d.course_id = c.course_id AND d.account_id = c.account_id ORDER BY b.bot_name) AS bots
  FROM course c
 WHERE c.account_id = 1 AND c.metadata @> $1::text::jsonb
 ORDER BY c.course_id
