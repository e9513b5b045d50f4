-- Backfill of bannedparticipants: bannedparticipant_id in [lo, hi) of mig_batch, one
-- batch online, the whole range in offline phase 3 (3_links.sql). Reads mig_params and
-- mig_ban_dups (analysis.sql; online, restore.sql's view of what prepare persisted).
-- Every ban gets its bot; duplicates under (bot, chat_id, excluded) go to the archive,
-- keeping the row the legacy reads see (analysis.sql says which).
-- reads: mig_ban_dups, mig_batch, mig_params
UPDATE bannedparticipants p SET bot_id = b.bot_id
  FROM bot b
 WHERE p.bannedparticipant_id >= (SELECT lo FROM mig_batch) AND p.bannedparticipant_id < (SELECT hi FROM mig_batch)
   AND (p.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND p.account_id = 1
   AND b.account_id = 1 AND b.bot_name = coalesce(p.botname, (SELECT default_bot FROM mig_params))
   AND p.bot_id IS DISTINCT FROM b.bot_id;

WITH gone AS (
    DELETE FROM bannedparticipants p USING mig_ban_dups d
     WHERE p.bannedparticipant_id = d.bannedparticipant_id
       AND d.bannedparticipant_id >= (SELECT lo FROM mig_batch) AND d.bannedparticipant_id < (SELECT hi FROM mig_batch)
    RETURNING p.bannedparticipant_id, p.botname, p.chat_id, p.banned_at, p.ban_reason, p.excluded, d.kept_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'bannedparticipants', 'deleted',
       jsonb_build_object('bannedparticipant_id', bannedparticipant_id),
       jsonb_build_object('bannedparticipant_id', bannedparticipant_id, 'botname', botname, 'chat_id', chat_id,
                          'banned_at', banned_at, 'ban_reason', ban_reason, 'excluded', excluded),
       format('duplicate ban of the same chat on the same bot: row %s is kept', kept_id)
  FROM gone;
