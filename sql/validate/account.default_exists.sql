-- The default account: account_id 1, slug 'default'.
WITH bad AS (
    SELECT CASE WHEN a.account_id IS NULL THEN 'account 1 does not exist'
                ELSE format('account 1 has slug %L', a.slug)
           END AS problem
      FROM (SELECT 1) AS one
      LEFT JOIN account a ON a.account_id = 1
     WHERE a.account_id IS NULL OR a.slug IS DISTINCT FROM 'default'
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT problem FROM bad) AS examples;
