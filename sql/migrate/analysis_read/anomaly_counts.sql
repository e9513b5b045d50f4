-- The counts of the anomalies that the phases act on: conversation rows whose run is
-- gone, chats with several unfinished runs on one bot, the runs deactivated, duplicate
-- bans and participants. Reads mig_orphans, mig_run_dup_groups, mig_run_deactivate,
-- mig_ban_dups and mig_participant_dups (temporary, sql/migrate/analysis.sql).
-- reads: mig_ban_dups, mig_orphans, mig_participant_dups, mig_run_deactivate, mig_run_dup_groups
SELECT (SELECT count(*) FROM mig_orphans),
       (SELECT count(*) FROM mig_run_dup_groups),
       (SELECT count(*) FROM mig_run_deactivate),
       (SELECT count(*) FROM mig_ban_dups),
       (SELECT count(*) FROM mig_participant_dups)
