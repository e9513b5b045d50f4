SELECT a.account_id,
       a.name,
       a.slug,
       a.plan,
       a.is_active IS NOT FALSE AS is_active,
       a.created_at,
       (SELECT count(*) FROM bot b WHERE b.account_id = a.account_id) AS bots,
       (SELECT count(*) FROM account_member m WHERE m.account_id = a.account_id AND m.is_active IS NOT FALSE) AS members,
       (SELECT count(*) FROM account_member m
         WHERE m.account_id = a.account_id AND m.is_active IS NOT FALSE AND m.role = 'owner') AS owners,
       (SELECT count(*) FROM course c WHERE c.account_id = a.account_id) AS courses,
       (SELECT count(*) FROM course_deployment d WHERE d.account_id = a.account_id) AS deployments
  FROM account a
 ORDER BY a.account_id
