-- Backfill of conversation (--orphans detach, the default): the rows whose run_id names
-- no run get run_id NULL; the old value goes to the archive, and to the legacy
-- interface, which still shows it. The orphans with run_id in [lo, hi) of mig_batch:
-- one batch online, the whole range in offline phase 3 (3_links_whole_range.sql).
-- Reads mig_params and mig_orphans (analysis.sql; online, restore.sql's view of what
-- prepare persisted).
-- reads: mig_batch, mig_orphans, mig_params
INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id)
SELECT o.conversation_id, o.run_id FROM mig_orphans o
 WHERE o.run_id >= (SELECT lo FROM mig_batch) AND o.run_id < (SELECT hi FROM mig_batch)
ON CONFLICT DO NOTHING;
WITH detached AS (
    UPDATE conversation c SET run_id = NULL
      FROM mig_orphans o
     WHERE c.conversation_id = o.conversation_id AND c.run_id = o.run_id
       AND o.run_id >= (SELECT lo FROM mig_batch) AND o.run_id < (SELECT hi FROM mig_batch)
       AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = o.run_id)
    RETURNING c.conversation_id, o.run_id AS old_run_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'conversation', 'updated',
       jsonb_build_object('conversation_id', conversation_id), jsonb_build_object('run_id', old_run_id),
       format('run_id %s points at no run (deleted long ago): detached', old_run_id)
  FROM detached;
