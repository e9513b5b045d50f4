-- Online prepare: the analysis's decisions that the backfill applies later, possibly in
-- another session (a resumed `migrate`), kept in the tool's schema until the switch.
-- Reads the analysis tables (analysis.sql): mig_params, mig_run_deactivate, mig_ban_dups, mig_participant_dups, mig_orphans.
-- reads: mig_ban_dups, mig_orphans, mig_params, mig_participant_dups, mig_run_deactivate
DROP TABLE IF EXISTS profochat_saas.online_params, profochat_saas.online_course_map,
    profochat_saas.online_run_deactivate, profochat_saas.online_ban_dups,
    profochat_saas.online_participant_dups, profochat_saas.online_orphans;
CREATE TABLE profochat_saas.online_params AS TABLE mig_params;
CREATE TABLE profochat_saas.online_run_deactivate AS TABLE mig_run_deactivate;
ALTER TABLE profochat_saas.online_run_deactivate ADD PRIMARY KEY (run_id);
CREATE TABLE profochat_saas.online_ban_dups AS TABLE mig_ban_dups;
ALTER TABLE profochat_saas.online_ban_dups ADD PRIMARY KEY (bannedparticipant_id);
CREATE TABLE profochat_saas.online_participant_dups AS TABLE mig_participant_dups;
ALTER TABLE profochat_saas.online_participant_dups ADD PRIMARY KEY (courseparticipant_id);
CREATE TABLE profochat_saas.online_orphans AS TABLE mig_orphans;
ALTER TABLE profochat_saas.online_orphans ADD PRIMARY KEY (conversation_id);
