-- Records upstream's migrations as applied, unless recorded already.
-- $1: applied_by (this tool and its version); $2: the migration's execution time in ms,
-- recorded on the last one; $3, $4: versions and descriptions (parallel arrays).
INSERT INTO schema_migrations (version, description, applied_by, execution_time_ms)
SELECT v.version, v.description, $1::text,
       CASE WHEN v.ord = array_length($3::text[], 1) THEN $2::int END
  FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS v(version, description, ord)
 WHERE NOT EXISTS (SELECT 1 FROM schema_migrations s WHERE s.version = v.version)
 ORDER BY v.ord
