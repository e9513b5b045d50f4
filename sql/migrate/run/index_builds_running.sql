-- Index builds of other sessions in this database that have not ended: a
-- `CREATE INDEX` still running, or one whose transaction is still open (a client
-- killed in the middle of a build leaves its server process building until the
-- server notices). $1: the names of the indexes about to be built. Reads
-- pg_stat_activity (the sessions of this user, or all for a superuser).
SELECT a.pid, a.state, left(regexp_replace(a.query, '\s+', ' ', 'g'), 160) AS query,
       coalesce(a.xact_start, a.query_start)::text AS since, n.name AS index_name
  FROM pg_stat_activity a
  JOIN unnest($1::text[]) AS n(name)
    ON a.query ~* ('CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?"?' || n.name || '"?\s')
 WHERE a.datname = current_database()
   AND a.pid <> pg_backend_pid()
   AND a.state IS DISTINCT FROM 'idle'
 ORDER BY a.pid
