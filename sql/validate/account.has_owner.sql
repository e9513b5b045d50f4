-- Every active account has at least one active owner.
WITH bad AS (
    SELECT a.account_id, a.slug
      FROM account a
     WHERE a.is_active
       AND NOT EXISTS (SELECT 1 FROM account_member m
                        WHERE m.account_id = a.account_id AND m.role = 'owner' AND m.is_active)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('account %s (%L) has no owner yet', account_id, slug)
               FROM bad ORDER BY account_id LIMIT 10) AS examples;
