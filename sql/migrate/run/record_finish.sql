-- The last statement before the commit: what migration $1 did — status $2, the
-- phases' timings and counts ($3), the fingerprint after ($4), the summary of the
-- no-loss proof ($5).
UPDATE profochat_saas.migration
   SET status = $2, finished_at = clock_timestamp(), phases = $3, fingerprint_after = $4, summary = $5
 WHERE migration_id = $1
