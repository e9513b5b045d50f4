-- Offline, after the phases and before the no-loss proof and the validation read the
-- migrated tables: fresh statistics for every table the phases rewrote or filled.
-- Inside the migration's transaction autovacuum cannot see these rows, so without this
-- the planner keeps the legacy row counts and shapes, and a validation check that is a
-- hash join on a committed database became a nested loop of seconds (20,000 dense runs:
-- conversation.follows_run_copy 13 s inside the transaction, 0.39 s after it).
-- ANALYZE reads a sample of each table (default_statistics_target rows × 300), not all of it.
ANALYZE run, conversation, waiting_element, bannedparticipants, courseparticipants, gen_settings,
        course, course_element, bot, course_deployment, account, profochat_saas.archive
