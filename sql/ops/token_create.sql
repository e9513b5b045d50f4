-- No row back: the random value collided with an existing token (the caller draws again).
INSERT INTO enrollment_token (deployment_id, token, token_type, max_uses, expires_at, created_by)
VALUES ($1, $2, $3, $4,
        CASE WHEN $5::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $5::float8) END,
        $6)
ON CONFLICT (token) DO NOTHING
RETURNING token_id, expires_at, created_at
