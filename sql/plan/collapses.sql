-- Each group of duplicates that collapses under the new unique keys: the rows that go
-- to the archive and the row that stays (the one the legacy reads see). Reads
-- mig_ban_dups and mig_participant_dups (analysis.sql).
-- reads: mig_ban_dups, mig_params, mig_participant_dups
SELECT 'bannedparticipants' AS table_name,
       format('chat %s on bot %s (excluded %s): rows %s go, row %s (bot name %s) stays',
              k.chat_id, coalesce(k.botname, (SELECT default_bot FROM mig_params)), k.excluded,
              string_agg(d.bannedparticipant_id::text, ', ' ORDER BY d.bannedparticipant_id), d.kept_id,
              coalesce(quote_literal(k.botname), 'NULL')) AS line
  FROM mig_ban_dups d JOIN bannedparticipants k ON k.bannedparticipant_id = d.kept_id
 GROUP BY d.kept_id, k.chat_id, k.botname, k.excluded
UNION ALL
SELECT 'courseparticipants',
       format('course %s, username %s: rows %s go, row %s stays',
              quote_literal(k.course_id), coalesce(quote_literal(k.username), 'NULL'),
              string_agg(d.courseparticipant_id::text, ', ' ORDER BY d.courseparticipant_id), d.kept_id)
  FROM mig_participant_dups d JOIN courseparticipants k ON k.courseparticipant_id = d.kept_id
 GROUP BY d.kept_id, k.course_id, k.username
 ORDER BY 1, 2;
