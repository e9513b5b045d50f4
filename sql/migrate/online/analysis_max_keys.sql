-- The highest key of each legacy table with one integer key, in the order of
-- sql::LEGACY_TABLES without course: taken in the preflight's snapshot, and again by the
-- prepare step, which runs the analysis again at once when one differs (a row was
-- inserted since, the legacy bot's most frequent write) without reading the tables
-- whole (analysis_unchanged.sql). One index lookup each.
SELECT (SELECT max(conversation_id) FROM conversation)::int8,
       (SELECT max(run_id) FROM run)::int8,
       (SELECT max(waiting_element_id) FROM waiting_element)::int8,
       (SELECT max(course_element_id) FROM course_element)::int8,
       (SELECT max(courseparticipant_id) FROM courseparticipants)::int8,
       (SELECT max(bannedparticipant_id) FROM bannedparticipants)::int8,
       (SELECT max(id) FROM gen_settings)::int8
