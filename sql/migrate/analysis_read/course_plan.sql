-- Each copy of a course id found under several bots and its outcome (keep, merge,
-- rename). Reads mig_course_plan (temporary, sql/migrate/analysis.sql).
-- reads: mig_course_plan
SELECT course_id, bot_name, identical, action, new_course_id FROM mig_course_plan ORDER BY course_id, action <> 'keep', bot_name
