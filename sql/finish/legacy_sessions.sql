-- Sessions of this database (other than this one) that may be the legacy bot, for
-- `finish` to refuse while any is connected:
--   connected as a role whose search_path was set to the legacy interface ($1: the
--   names recorded in profochat_saas.legacy_role);
--   the very session that made a legacy-shaped write, still connected ($2, $3, $4:
--   pid, role and epoch of each session's last write, from profochat_saas.legacy_write;
--   a session started after the write reuses the pid and is not counted);
--   holding a lock on a view of the legacy interface right now (inside a statement or
--   a transaction that reads or writes profochat_legacy).
-- A session's own search_path cannot be read from another session: a legacy bot that
-- connects with the URL option and has neither written nor is reading right now is
-- seen only by its writes (the quiet period).
SELECT a.pid,
       a.usename::text,
       coalesce(a.application_name, '') AS application_name,
       coalesce(host(a.client_addr), 'the local socket') AS client,
       CASE WHEN a.usename = ANY ($1::text[]) THEN format('connected as %s, a role set to the legacy interface', a.usename)
            WHEN w.pid IS NOT NULL THEN format('made a legacy-shaped write at %s', to_char(to_timestamp(w.epoch), 'YYYY-MM-DD HH24:MI:SS TZ'))
            ELSE 'reads or writes the legacy interface (profochat_legacy) right now' END AS why
  FROM pg_stat_activity a
  LEFT JOIN unnest($2::int4[], $3::text[], $4::float8[]) AS w(pid, usename, epoch)
         ON w.pid = a.pid AND w.usename = a.usename::text
        AND (a.backend_start IS NULL OR a.backend_start <= to_timestamp(w.epoch) + interval '1 second')
 WHERE a.datname = current_database()
   AND a.pid <> pg_backend_pid()
   AND a.backend_type = 'client backend'
   AND (a.usename = ANY ($1::text[])
        OR w.pid IS NOT NULL
        OR EXISTS (SELECT 1
                     FROM pg_locks l
                     JOIN pg_class c ON c.oid = l.relation
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE l.pid = a.pid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND n.nspname = 'profochat_legacy'))
 ORDER BY a.pid
