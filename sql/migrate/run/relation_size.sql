-- Index builds after the commit: the size of table $1, to build the longest first.
SELECT pg_relation_size(to_regclass($1))
