-- Tokens past their expiry that are still marked active (they are refused anyway).
SELECT (SELECT count(*) FROM enrollment_token WHERE is_active AND expires_at < localtimestamp)::int8 AS offending,
       ARRAY(SELECT format('token_id %s (deployment %s) expired %s', token_id, deployment_id, expires_at)
               FROM enrollment_token WHERE is_active AND expires_at < localtimestamp
              ORDER BY token_id LIMIT 10) AS examples;
