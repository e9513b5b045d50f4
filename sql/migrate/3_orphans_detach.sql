-- Phase 3 (--orphans detach, the default): conversation rows whose run_id names no run
-- get run_id NULL; the old value goes to the archive, and to the legacy interface,
-- which still shows it.
INSERT INTO profochat_saas.legacy_conversation_run (conversation_id, run_id)
SELECT conversation_id, run_id FROM mig_orphans
ON CONFLICT DO NOTHING;
WITH detached AS (
    UPDATE conversation c SET run_id = NULL
      FROM mig_orphans o
     WHERE c.conversation_id = o.conversation_id
    RETURNING c.conversation_id, o.run_id AS old_run_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'conversation', 'updated',
       jsonb_build_object('conversation_id', conversation_id), jsonb_build_object('run_id', old_run_id),
       format('run_id %s points at no run (deleted long ago): detached', old_run_id)
  FROM detached;
