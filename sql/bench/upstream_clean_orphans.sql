-- `bench --compare-upstream`, before upstream's 0003 runs (not timed): conversation rows
-- whose run no longer exists. 0003 adds conversation_run_id_fkey (conversation.run_id →
-- run) without looking at the data, so one such row makes the ALTER TABLE fail and the
-- whole script roll back. Upstream leaves them to the operator; here their run_id is
-- cleared (the rows stay, so 0003 carries as many conversation rows as the migration).
UPDATE conversation c
   SET run_id = NULL
 WHERE c.run_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = c.run_id)
