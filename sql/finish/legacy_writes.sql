-- Each session's last legacy-shaped write (7_legacy_write.sql), newest first: pid,
-- role, application, when (epoch) and how long ago in seconds.
SELECT pid, usename, application_name,
       extract(epoch FROM at)::float8 AS epoch,
       greatest(extract(epoch FROM now() - at), 0)::float8 AS seconds_ago
  FROM profochat_saas.legacy_write
 ORDER BY at DESC
