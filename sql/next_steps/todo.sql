-- What is still to do on a migrated database, for the next steps that `migrate` and
-- `finish` print: bots whose token is still the placeholder ($1: its prefix; only the
-- names, tokens are never read out), active accounts without an active owner, active
-- deployments without a usable enrollment token, and the usable tokens there are.
SELECT ARRAY(SELECT bot_name FROM bot WHERE starts_with(bot_token, $1) ORDER BY bot_name) AS bots_waiting_for_token,
       ARRAY(SELECT a.account_id FROM account a
              WHERE a.is_active IS NOT FALSE
                AND NOT EXISTS (SELECT 1 FROM account_member m
                                 WHERE m.account_id = a.account_id AND m.role = 'owner' AND m.is_active IS NOT FALSE)
              ORDER BY a.account_id) AS accounts_without_owner,
       (SELECT count(*) FROM course_deployment d
         WHERE d.is_active IS NOT FALSE
           AND NOT EXISTS (SELECT 1 FROM enrollment_token t
                            WHERE t.deployment_id = d.deployment_id AND t.is_active IS NOT FALSE
                              AND (t.expires_at IS NULL OR t.expires_at > now())
                              AND (t.max_uses IS NULL OR coalesce(t.current_uses, 0) < t.max_uses)))::int8 AS deployments_without_token,
       (SELECT count(*) FROM enrollment_token t
         WHERE t.is_active IS NOT FALSE
           AND (t.expires_at IS NULL OR t.expires_at > now())
           AND (t.max_uses IS NULL OR coalesce(t.current_uses, 0) < t.max_uses))::int8 AS usable_tokens
