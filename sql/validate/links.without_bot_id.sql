-- Rows of run, waiting_element and bannedparticipants without a bot_id. bot_id is
-- nullable, as in upstream's 0003: the upstream application writes runs by bot name
-- alone. Until `finish` the compatibility layer fills it for every legacy-shaped write,
-- so such rows are the application's own writes (or a link the layer could not make).
WITH missing AS (
    SELECT 'run' AS tbl, count(*) AS n FROM run WHERE bot_id IS NULL
    UNION ALL
    SELECT 'waiting_element', count(*) FROM waiting_element WHERE bot_id IS NULL
    UNION ALL
    SELECT 'bannedparticipants', count(*) FROM bannedparticipants WHERE bot_id IS NULL
)
SELECT (SELECT sum(n) FROM missing)::int8 AS offending,
       ARRAY(SELECT format('%s: %s row(s) without bot_id', tbl, n) FROM missing WHERE n > 0) AS examples;
