-- The deep-link payload cd_<deployment_id>_<token> fits Telegram's start parameter:
-- at most 64 characters of A-Z a-z 0-9 _ -. Token values are never shown.
WITH checked AS (
    SELECT token_id, deployment_id,
           length('cd_' || deployment_id || '_' || token) AS payload_length,
           token ~ '^[A-Za-z0-9_-]+$' AS clean
      FROM enrollment_token
), bad AS (
    SELECT * FROM checked WHERE payload_length > 64 OR NOT clean
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('token_id %s (deployment %s): %s', token_id, deployment_id,
                           concat_ws(' and ',
                                     CASE WHEN payload_length > 64 THEN format('payload of %s characters', payload_length) END,
                                     CASE WHEN NOT clean THEN 'characters outside A-Z a-z 0-9 _ -' END))
               FROM bad ORDER BY token_id LIMIT 10) AS examples;
