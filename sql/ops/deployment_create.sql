WITH d AS (
    INSERT INTO course_deployment (course_id, account_id, bot_id, environment)
    VALUES ($1, $2, $3, $4)
    RETURNING *
)
SELECT d.deployment_id, d.course_id, d.account_id, d.bot_id, b.bot_name, d.environment,
       d.is_active IS NOT FALSE AS is_active, d.created_at
  FROM d JOIN bot b ON b.bot_id = d.bot_id
