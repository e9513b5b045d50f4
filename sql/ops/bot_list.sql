SELECT b.bot_id,
       b.account_id,
       b.bot_name,
       b.display_name,
       b.is_active IS NOT FALSE AS is_active,
       b.bot_token,
       (SELECT count(*) FROM course_deployment d WHERE d.bot_id = b.bot_id) AS deployments,
       (SELECT count(*) FROM run r WHERE r.bot_id = b.bot_id AND r.is_active) AS active_runs
  FROM bot b
 ORDER BY b.account_id, b.bot_name
