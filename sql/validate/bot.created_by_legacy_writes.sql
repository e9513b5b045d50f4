-- Bots that the compatibility layer created because a legacy bot wrote under a name no
-- bot had: a new bot really started. They need a real token and an operator's look.
SELECT count(*)::int8 AS offending,
       ARRAY(SELECT format('%s (account %s, created %s)', bot_name, account_id, created_at::timestamp(0))
               FROM bot WHERE settings ->> 'created_by' = 'legacy write' ORDER BY bot_id LIMIT 10) AS examples
  FROM bot WHERE settings ->> 'created_by' = 'legacy write';
