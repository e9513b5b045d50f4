-- Check after phase 2: bots of the analysis without a bot row, and courses the rows
-- reference without a course row (0 expected). Reads the analysis's temporary tables
-- mig_bots and mig_missing_course (sql/migrate/analysis.sql), bot and course.
-- reads: mig_bots, mig_missing_course
SELECT (SELECT count(*) FROM mig_bots m WHERE NOT EXISTS (SELECT 1 FROM bot b WHERE b.account_id = 1 AND b.bot_name = m.bot_name))
     + (SELECT count(*) FROM mig_missing_course m WHERE NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = m.course_id))
