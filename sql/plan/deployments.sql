-- How many (course, bot) deployments the migration will create: the pairs of
-- phase 2, counted before any bot or course row exists.
-- reads: mig_bots, mig_course_bot_refs, mig_course_map, mig_course_plan, mig_missing_course, mig_params
SELECT count(*)::int8 FROM (
          SELECT coalesce(p.new_course_id, c.course_id) AS course_id, c.bot_name
            FROM course c LEFT JOIN mig_course_plan p USING (course_id, bot_name)
    UNION SELECT course_id, bot_name FROM mig_missing_course
    UNION SELECT coalesce(m.new_course_id, r.course_id), r.bot_name
            FROM mig_course_bot_refs r LEFT JOIN mig_course_map m USING (course_id, bot_name)
) pairs
WHERE pairs.bot_name IN (SELECT bot_name FROM mig_bots UNION SELECT default_bot FROM mig_params)
  AND NOT EXISTS (
      SELECT 1 FROM course_deployment d JOIN bot b ON b.bot_id = d.bot_id
       WHERE to_regclass('course_deployment') IS NOT NULL
         AND d.course_id = pairs.course_id AND b.bot_name = pairs.bot_name AND d.environment = 'prod')
