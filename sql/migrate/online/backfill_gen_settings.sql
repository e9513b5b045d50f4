-- Backfill of gen_settings: id in [lo, hi) of mig_batch, one batch online, the whole
-- range in offline phase 3 (3_links.sql). Account 1's settings get their bot_id from
-- bot_name (a NULL bot_name stays a setting for every bot).
-- reads: mig_batch
UPDATE gen_settings g SET bot_id = b.bot_id
  FROM bot b
 WHERE g.id >= (SELECT lo FROM mig_batch) AND g.id < (SELECT hi FROM mig_batch)
   AND b.account_id = 1 AND b.bot_name = g.bot_name AND g.bot_id IS DISTINCT FROM b.bot_id
   AND g.account_id IS NOT DISTINCT FROM 1;
