-- `finish`: the application uses the new schema and the legacy bot is stopped. The
-- legacy interface and the compatibility layer go; what they held of the legacy bot's
-- view (merged course copies, detached run_ids, hidden courses, renamed ids) is kept
-- in profochat_saas.archive first, so nothing is deleted for good. What stays is the
-- target schema with the upstream names, plus the tool's own state schema.
-- Reads pg_temp.finish_params (migration_id).

INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT p.migration_id, x.table_name, 'deleted', x.key, x.row, 'legacy interface state, kept by finish'
  FROM finish_params p,
       LATERAL (
                 SELECT 'profochat_saas.legacy_course_copy' AS table_name,
                        jsonb_build_object('course_id', k.course_id, 'bot_name', k.bot_name) AS key, to_jsonb(k) AS row
                   FROM profochat_saas.legacy_course_copy k
       UNION ALL SELECT 'profochat_saas.legacy_element_copy', jsonb_build_object('course_element_id', k.course_element_id), to_jsonb(k)
                   FROM profochat_saas.legacy_element_copy k
       UNION ALL SELECT 'profochat_saas.legacy_conversation_run', jsonb_build_object('conversation_id', k.conversation_id), to_jsonb(k)
                   FROM profochat_saas.legacy_conversation_run k
       UNION ALL SELECT 'profochat_saas.legacy_course_map', jsonb_build_object('legacy_course_id', k.legacy_course_id, 'bot_name', k.bot_name), to_jsonb(k)
                   FROM profochat_saas.legacy_course_map k
       UNION ALL SELECT 'profochat_saas.legacy_hidden_course', jsonb_build_object('course_id', k.course_id), to_jsonb(k)
                   FROM profochat_saas.legacy_hidden_course k
       ) x;

-- (The legacy interface, the guard and the compatibility triggers went just before: drop_compat.sql.)

DROP FUNCTION IF EXISTS profochat_saas.compat_run(), profochat_saas.compat_conversation(),
    profochat_saas.compat_waiting_element(), profochat_saas.compat_bannedparticipants(),
    profochat_saas.compat_courseparticipants(), profochat_saas.compat_course(), profochat_saas.compat_course_delete(),
    profochat_saas.compat_course_split(), profochat_saas.compat_course_element(), profochat_saas.compat_gen_settings(),
    profochat_saas.legacy_run_write(), profochat_saas.legacy_conversation_write(),
    profochat_saas.legacy_waiting_element_write(), profochat_saas.legacy_course_write(),
    profochat_saas.legacy_course_element_write(),
    profochat_saas.guard_ddl(), profochat_saas.guarded_tables(), profochat_saas.guarded_schema(),
    profochat_saas.deployment_for(text, int4), profochat_saas.ensure_course(text, text), profochat_saas.ensure_course(text, int4),
    profochat_saas.course_for(text, text), profochat_saas.course_for(text, int4), profochat_saas.course_for_write(text, text),
    profochat_saas.course_claim(text, text), profochat_saas.free_course_id(text, text),
    profochat_saas.bot_id_for(text), profochat_saas.default_bot();

DROP TABLE IF EXISTS profochat_saas.legacy_course_map, profochat_saas.legacy_course_name,
    profochat_saas.legacy_course_copy, profochat_saas.legacy_element_copy, profochat_saas.legacy_hidden_course,
    profochat_saas.legacy_conversation_run, profochat_saas.legacy_role, profochat_saas.legacy_role_grant, profochat_saas.guarded_object;

-- The online migration's temporary index (migrate/online/chat_index.sql), if the
-- switch could not drop it.
DROP INDEX IF EXISTS profochat_saas_run_chat;

-- When the legacy bot last wrote (7_legacy_write.sql): nothing writes in its shape any more.
DROP FUNCTION IF EXISTS profochat_saas.note_legacy_write();
DROP TABLE IF EXISTS profochat_saas.legacy_write;
