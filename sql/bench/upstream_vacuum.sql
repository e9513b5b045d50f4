-- `bench --compare-upstream`, after the cleaning and before the clock starts: the
-- cleaned tables without the dead rows the cleaning left, and their statistics current,
-- as on a database at rest.
VACUUM ANALYZE conversation, courseparticipants, bannedparticipants
