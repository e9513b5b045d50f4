-- `finish`, last: the columns as upstream's 0003 leaves them. gen_settings.account_id
-- defaulted to the default account while the legacy bot could write settings; upstream
-- gives it no default. course.updated_at had none while the compatibility layer told
-- the legacy bot's course inserts by it; upstream's defaults to CURRENT_TIMESTAMP.
-- bot_id of run, waiting_element and bannedparticipants is nullable upstream (its application starts runs by bot name alone); a database
-- migrated by an older profochat-saas had it NOT NULL.
ALTER TABLE gen_settings ALTER COLUMN account_id DROP DEFAULT;
ALTER TABLE course ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE run ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE waiting_element ALTER COLUMN bot_id DROP NOT NULL;
ALTER TABLE bannedparticipants ALTER COLUMN bot_id DROP NOT NULL;

-- Elements and participants with no course (course_id NULL): no read of any course
-- ever finds them (every read names its course), and upstream's later migrations
-- cannot carry them (its 0004 makes their course_id NOT NULL; its own 0003 deleted
-- them). They go to the archive, with every column, then from the tables.
WITH gone AS (DELETE FROM course_element WHERE course_id IS NULL RETURNING *)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT p.migration_id, 'course_element', 'deleted', jsonb_build_object('course_element_id', g.course_element_id), to_jsonb(g),
       'element without a course, which upstream''s later migrations cannot carry: removed by finish'
  FROM gone g, finish_params p;
WITH gone AS (DELETE FROM courseparticipants WHERE course_id IS NULL RETURNING *)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT p.migration_id, 'courseparticipants', 'deleted', jsonb_build_object('courseparticipant_id', g.courseparticipant_id), to_jsonb(g),
       'participant without a course, which upstream''s later migrations cannot carry: removed by finish'
  FROM gone g, finish_params p;

-- The legacy interface's list of elements imported from YAML files goes with it.
DROP TABLE IF EXISTS profochat_saas.legacy_hidden_element;
