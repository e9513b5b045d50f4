-- The archive of rows and values the migration could not keep in place.
SELECT CASE WHEN to_regclass('profochat_saas.archive') IS NULL THEN 1 ELSE 0 END::int8 AS offending,
       CASE WHEN to_regclass('profochat_saas.archive') IS NULL
            THEN ARRAY['profochat_saas.archive does not exist']
            ELSE ARRAY[]::text[]
       END AS examples;
