-- Check after phase 3: runs, waiting elements and bans still without a bot (0 expected).
SELECT (SELECT count(*) FROM run WHERE bot_id IS NULL)
     + (SELECT count(*) FROM waiting_element WHERE bot_id IS NULL)
     + (SELECT count(*) FROM bannedparticipants WHERE bot_id IS NULL)
