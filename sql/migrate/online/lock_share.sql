-- Online prepare, one attempt: the eight legacy tables in SHARE ROW EXCLUSIVE mode, in
-- the fixed order, so that the triggers are installed with nothing written in between.
-- The bot's reads go on; its writes wait until this short transaction commits. An
-- attempt waits at most short_lock::ATTEMPT (the caller's prologue sets it); the driver
-- retries it with a pause, up to its bound.
LOCK TABLE conversation, run, waiting_element, course, course_element, courseparticipants, bannedparticipants, gen_settings
    IN SHARE ROW EXCLUSIVE MODE;
SET LOCAL lock_timeout = 0;
