-- `bench --compare-upstream`, before upstream's 0003 runs (not timed): a participant
-- listed twice in a course. 0003 creates UNIQUE INDEX courseparticipants_unique ON
-- (course_id, account_id, COALESCE(chat_id, 0), COALESCE(username, '')), where chat_id
-- is its own new column (NULL) and account_id is 1: two rows of the same course and
-- username make it fail and the script roll back. The later copies (higher ids) go, the
-- first of each stays. Rows without a course are 0003's own to delete (no course row).
DELETE FROM courseparticipants p
 WHERE p.course_id IS NOT NULL
   AND EXISTS (
       SELECT 1
         FROM courseparticipants o
        WHERE o.course_id = p.course_id
          AND COALESCE(o.username, '') = COALESCE(p.username, '')
          AND o.courseparticipant_id < p.courseparticipant_id)
