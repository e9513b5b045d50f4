-- Other client sessions connected to a database, and their application names.
SELECT count(*)::int8 AS sessions,
       coalesce(array_agg(DISTINCT coalesce(nullif(application_name, ''), '(no application name)')), '{}')::text[] AS applications
  FROM pg_stat_activity
 WHERE datname = $1
   AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
