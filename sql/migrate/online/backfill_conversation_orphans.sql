-- Online backfill of conversation (--orphans detach), one batch: the rows whose run_id,
-- which names no run, is in [lo, hi) of mig_batch. Reads mig_params and
-- profochat_saas.online_orphans. The old run_id goes to the legacy interface's memory
-- and to the archive.
INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id)
SELECT o.conversation_id, o.run_id FROM profochat_saas.online_orphans o
 WHERE o.run_id >= (SELECT lo FROM mig_batch) AND o.run_id < (SELECT hi FROM mig_batch)
ON CONFLICT DO NOTHING;
WITH detached AS (
    UPDATE conversation c SET run_id = NULL
      FROM profochat_saas.online_orphans o
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
