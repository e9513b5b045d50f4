-- Preflight, one attempt to lock the eight legacy tables so that nothing changes under
-- the migration, in one fixed order. A waiting lock request holds up every statement
-- queued behind it, so an attempt waits at most short_lock::ATTEMPT (the caller's
-- prologue sets it) for sessions that hold them (the running bot, a long query); the
-- driver retries it, with a pause, up to its bound.
-- From the lock to the commit, the legacy bot's reads and writes wait.
LOCK TABLE conversation, run, waiting_element, course, course_element, courseparticipants, bannedparticipants, gen_settings
    IN ACCESS EXCLUSIVE MODE;
SET LOCAL lock_timeout = 0;
