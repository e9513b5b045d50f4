-- The legacy interface, the schema-change guard and the compatibility triggers go (for
-- `finish` and `rollback`): the views first, they depend on the tables. The functions
-- stay for the caller to drop (rollback drops the whole profochat_saas schema).
DROP SCHEMA IF EXISTS profochat_legacy CASCADE;
DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_ddl;
DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_drop;
DROP EVENT TRIGGER IF EXISTS profochat_saas_guard_start;
DROP TRIGGER IF EXISTS profochat_saas_compat ON run;
DROP TRIGGER IF EXISTS profochat_saas_compat ON conversation;
DROP TRIGGER IF EXISTS profochat_saas_compat ON waiting_element;
DROP TRIGGER IF EXISTS profochat_saas_compat ON bannedparticipants;
DROP TRIGGER IF EXISTS profochat_saas_compat ON courseparticipants;
DROP TRIGGER IF EXISTS profochat_saas_compat ON course;
DROP TRIGGER IF EXISTS profochat_saas_compat_delete ON course;
DROP TRIGGER IF EXISTS profochat_saas_compat_split ON course;
DROP TRIGGER IF EXISTS profochat_saas_compat ON course_element;
DROP TRIGGER IF EXISTS profochat_saas_compat ON gen_settings;
