INSERT INTO account (name, slug, plan)
VALUES ($1, $2, $3)
RETURNING account_id, name, slug, plan, is_active IS NOT FALSE AS is_active, created_at
