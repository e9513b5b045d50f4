-- Enrolments of one chat on one bot take turns, so each ends the run the previous
-- one created. The same key as the legacy-compatibility trigger on run inserts.
SELECT pg_advisory_xact_lock($1::int4, hashint8($2::int8))
