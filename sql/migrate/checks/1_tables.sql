-- Check after phase 1: how many of the new tables are missing (0 expected).
SELECT count(*) FROM unnest(ARRAY['account_member', 'bot', 'course_deployment', 'enrollment_token']) t
 WHERE to_regclass(t) IS NULL
