-- `bench --compare-upstream`, before upstream's 0003 runs (not timed): the same ban
-- recorded twice. 0003 creates UNIQUE INDEX bannedparticipants_unique ON (bot_id,
-- chat_id, excluded), bot_id being one per bot name: two rows of the same bot name, chat
-- and `excluded` make it fail and the script roll back. The later copies (higher ids)
-- go, the first of each stays; rows with a NULL among the three never conflict and stay.
DELETE FROM bannedparticipants b
 WHERE b.botname IS NOT NULL AND b.chat_id IS NOT NULL AND b.excluded IS NOT NULL
   AND EXISTS (
       SELECT 1
         FROM bannedparticipants o
        WHERE o.botname = b.botname
          AND o.chat_id = b.chat_id
          AND o.excluded = b.excluded
          AND o.bannedparticipant_id < b.bannedparticipant_id)
