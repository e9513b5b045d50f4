-- Check after phase 4: key constraints that should exist and do not (0 expected).
-- Reads pg_constraint.
SELECT count(*) FROM unnest(ARRAY['run_bot_id_fkey', 'run_deployment_id_fkey', 'conversation_run_id_fkey',
                                  'course_deployment_course_fkey', 'bot_bot_token_key']) k
 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = k)
