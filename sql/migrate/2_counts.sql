-- Phase 2, before and after its work: bots and course deployments, for the counts
-- of what it created.
SELECT (SELECT count(*) FROM bot), (SELECT count(*) FROM course_deployment)
