-- A YAML course's own row: the course file's text as yaml, the courses.yml settings
-- (secrets left out) in metadata, and where they came from under yaml_import.
-- $1: course_id; $2: the file's text; $3: the settings; $4: the source.
UPDATE course
   SET yaml = $2,
       metadata = coalesce(metadata, '{}'::jsonb) || $3::jsonb || jsonb_build_object('yaml_import', $4::jsonb)
 WHERE course_id = $1 AND account_id = 1
