-- For a database an older profochat-saas migrated (it had no legacy interface): the
-- legacy interface's state rebuilt from what that version recorded, its archive and
-- the renamed courses' metadata, before 8_legacy_interface.sql installs the views.
-- Reads profochat_saas.archive and course.metadata; writes the legacy-memory tables of
-- sql/state/schema.sql (rows already there are kept).

-- Renamed course copies: their metadata names the legacy id and bot.
INSERT INTO profochat_saas.legacy_course_map (legacy_course_id, bot_name, course_id)
SELECT metadata ->> 'legacy_course_id', metadata ->> 'legacy_bot_name', course_id
  FROM course
 WHERE account_id = 1 AND metadata ? 'legacy_course_id' AND metadata ? 'legacy_bot_name'
ON CONFLICT DO NOTHING;
INSERT INTO profochat_saas.legacy_course_name (course_id, legacy_course_id)
SELECT course_id, metadata ->> 'legacy_course_id'
  FROM course WHERE account_id = 1 AND metadata ? 'legacy_course_id'
ON CONFLICT DO NOTHING;

-- Identical copies merged into another bot's row, and their elements, as archived.
INSERT INTO profochat_saas.legacy_course_copy (course_id, bot_name, creator_id, date_created, yaml)
SELECT a.row ->> 'course_id', a.row ->> 'bot_name', (a.row ->> 'creator_id')::int8,
       (a.row ->> 'date_created')::timestamp, a.row ->> 'yaml'
  FROM profochat_saas.archive a
 WHERE a.table_name = 'course' AND a.action = 'deleted'
ON CONFLICT DO NOTHING;
INSERT INTO profochat_saas.legacy_element_copy (course_element_id, element_id, json, element_type, course_id, bot_name)
SELECT (a.row ->> 'course_element_id')::int8, a.row ->> 'element_id', a.row ->> 'json', a.row ->> 'element_type',
       a.row ->> 'course_id', a.row ->> 'bot_name'
  FROM profochat_saas.archive a
 WHERE a.table_name = 'course_element' AND a.action = 'deleted'
ON CONFLICT DO NOTHING;

-- Courses created because rows referenced them.
INSERT INTO profochat_saas.legacy_hidden_course (course_id, reason)
SELECT course_id, 'references' FROM course
 WHERE account_id = 1 AND metadata ->> 'created_from' = 'references'
ON CONFLICT DO NOTHING;

-- Detached orphans: the archived run_id of rows that hold NULL now.
INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id)
SELECT (a.key ->> 'conversation_id')::int4, (a.row ->> 'run_id')::int4
  FROM profochat_saas.archive a
  JOIN conversation c ON c.conversation_id = (a.key ->> 'conversation_id')::int4 AND c.run_id IS NULL
 WHERE a.table_name = 'conversation' AND a.action = 'updated' AND a.row ? 'run_id' AND a.row ->> 'run_id' IS NOT NULL
ON CONFLICT DO NOTHING;
