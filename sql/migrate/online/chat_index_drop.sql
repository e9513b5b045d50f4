-- The online migration's temporary index on run (chat_id) (chat_index.sql), dropped
-- without blocking the bot: once the switch is done, or when a build of it was killed
-- and left it invalid. One statement: DROP INDEX CONCURRENTLY cannot run inside a
-- transaction.
DROP INDEX CONCURRENTLY IF EXISTS profochat_saas_run_chat
