-- Keeps writers out while the generator checks that the legacy tables are empty
-- and fills them; gives up quickly rather than queue behind a running bot.
SET LOCAL lock_timeout = '5s';
LOCK TABLE conversation, run, waiting_element, course, course_element,
           courseparticipants, bannedparticipants, gen_settings
    IN SHARE ROW EXCLUSIVE MODE;
