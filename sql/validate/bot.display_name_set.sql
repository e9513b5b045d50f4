-- Every bot has a display name.
WITH bad AS (
    SELECT account_id, bot_name FROM bot WHERE display_name IS NULL OR btrim(display_name) = ''
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%L (account %s)', bot_name, account_id) FROM bad ORDER BY account_id, bot_name LIMIT 10) AS examples;
