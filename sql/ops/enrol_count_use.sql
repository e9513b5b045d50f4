UPDATE enrollment_token SET current_uses = coalesce(current_uses, 0) + 1 WHERE token_id = $1
RETURNING current_uses
