-- Removes the change log of an online migration (change_log.sql): the trigger of each
-- legacy table, the trigger functions and the log itself. Run by
-- src/migrate/changes.rs (`remove`) once the online no-loss proof is recorded, or by
-- `rollback`; safe to run when any of it is missing. The triggers are dropped first,
-- each in its own short transaction (changes.rs), so this file drops only what the
-- triggers needed.

DROP FUNCTION IF EXISTS profochat_saas.change_log_conversation();
DROP FUNCTION IF EXISTS profochat_saas.change_log_run();
DROP FUNCTION IF EXISTS profochat_saas.change_log_waiting_element();
DROP FUNCTION IF EXISTS profochat_saas.change_log_course();
DROP FUNCTION IF EXISTS profochat_saas.change_log_course_element();
DROP FUNCTION IF EXISTS profochat_saas.change_log_courseparticipants();
DROP FUNCTION IF EXISTS profochat_saas.change_log_bannedparticipants();
DROP FUNCTION IF EXISTS profochat_saas.change_log_gen_settings();
DROP TABLE IF EXISTS profochat_saas.change_log;
DROP INDEX IF EXISTS profochat_saas.archive_change_log_key;
-- The DDL guard's list forgets what went (a dropped object's oid may later be another
-- role's object, whose DDL the guard must never fail).
DO $$
BEGIN
    IF pg_catalog.to_regclass('profochat_saas.guarded_object') IS NOT NULL THEN
        DELETE FROM profochat_saas.guarded_object g
         WHERE (pg_catalog.pg_identify_object(g.classid, g.objid, 0)).identity IS NULL;
    END IF;
END $$;
