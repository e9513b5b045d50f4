-- Preflight, first statement of the migration transaction: lock the eight legacy
-- tables so that nothing changes under the migration. The legacy bot's reads and
-- writes wait from here until the commit. Waits at most 15 s for sessions that hold
-- them (the running bot, a long query); then the migration stops, nothing changed.
-- The migration's own schema changes pass the guard of 9_ddl_guard.sql (a re-run).
SET LOCAL profochat_saas.allow_ddl = on;
SET LOCAL lock_timeout = '15s';
LOCK TABLE conversation, run, waiting_element, course, course_element, courseparticipants, bannedparticipants, gen_settings
    IN ACCESS EXCLUSIVE MODE;
SET LOCAL lock_timeout = 0;
