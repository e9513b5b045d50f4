-- Backfill of courseparticipants: courseparticipant_id in [lo, hi) of mig_batch, one
-- batch online, the whole range in offline phase 3 (3_links.sql). Reads mig_params and
-- mig_participant_dups (analysis.sql; online, restore.sql's view of what prepare
-- persisted). Duplicates under (course, chat, username) go to the archive, keeping the
-- row the legacy reads see (analysis.sql says which).
-- reads: mig_batch, mig_params, mig_participant_dups
WITH gone AS (
    DELETE FROM courseparticipants p USING mig_participant_dups d
     WHERE p.courseparticipant_id = d.courseparticipant_id
       AND d.courseparticipant_id >= (SELECT lo FROM mig_batch) AND d.courseparticipant_id < (SELECT hi FROM mig_batch)
    RETURNING p.courseparticipant_id, p.course_id, p.username, d.kept_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'courseparticipants', 'deleted',
       jsonb_build_object('courseparticipant_id', courseparticipant_id),
       jsonb_build_object('courseparticipant_id', courseparticipant_id, 'course_id', course_id, 'username', username),
       format('duplicate participant of the same course: row %s is kept', kept_id)
  FROM gone;
