-- Online backfill of run, once its batches are done: a chat that started a course on a
-- bot between the analysis and the compatibility triggers may have two active runs
-- there. Only the newest stays active (as phase 3 and the compatibility trigger keep
-- it); the others are archived as deactivated. Reads the table, changes a few rows.
-- reads: mig_params
WITH settled AS (
    UPDATE run r SET is_active = false
      FROM (SELECT run_id FROM (
                SELECT run_id, row_number() OVER (PARTITION BY bot_id, chat_id ORDER BY run_id DESC) AS rn
                  FROM run WHERE is_active AND chat_id IS NOT NULL AND account_id = 1) x
             WHERE rn > 1) s
     WHERE r.run_id = s.run_id
    RETURNING r.run_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'run', 'updated',
       jsonb_build_object('run_id', run_id), jsonb_build_object('is_active', true),
       'deactivated: a newer unfinished run of the same chat on the same bot stays active'
  FROM settled;
