-- Attaches the change-log trigger function of one legacy table (change_log_trigger.sql)
-- to it. src/migrate/changes.rs runs it in its own transaction with a short
-- lock_timeout, retried: CREATE TRIGGER takes a SHARE ROW EXCLUSIVE lock, which waits
-- for the bot's open writes to the table and makes its next ones wait.
CREATE TRIGGER profochat_saas_change_log AFTER INSERT OR UPDATE OR DELETE ON {{table}}
    FOR EACH ROW EXECUTE FUNCTION {{function}}()
