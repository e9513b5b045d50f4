-- Ends the other client sessions connected to a database; returns how many were ended.
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int8
  FROM pg_stat_activity
 WHERE datname = $1
   AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
