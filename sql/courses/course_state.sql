-- A course of the default account before a YAML import: whether the migration created
-- it from references (it lives in YAML files), whether YAML content was imported into
-- it already, its yaml, and how many elements it has. $1: course_id; $2: the
-- metadata that marks courses created from references.
SELECT coalesce(c.metadata @> $2::text::jsonb, false) AS from_references,
       coalesce(c.metadata ? 'yaml_import', false) AS imported,
       c.yaml,
       (SELECT count(*) FROM course_element e WHERE e.course_id = c.course_id AND e.account_id = c.account_id) AS elements
  FROM course c
 WHERE c.course_id = $1 AND c.account_id = 1
