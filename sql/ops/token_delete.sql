-- Deletes an enrollment token. The runs it enrolled stay, without the link to it
-- (run.token_id set NULL; run.metadata keeps which token it was). One statement: the
-- foreign key from run is checked at its end. Returns nothing for an unknown token.
WITH token AS (
    SELECT token_id, deployment_id, token_type, coalesce(current_uses, 0) AS uses
      FROM enrollment_token WHERE token_id = $1 FOR UPDATE
), detached AS (
    UPDATE run r
       SET token_id = NULL,
           metadata = coalesce(r.metadata, '{}'::jsonb) || jsonb_build_object('deleted_enrollment_token_id', t.token_id)
      FROM token t
     WHERE r.token_id = t.token_id
    RETURNING r.run_id
), gone AS (
    DELETE FROM enrollment_token e USING token t WHERE e.token_id = t.token_id RETURNING e.token_id
)
SELECT t.token_id, t.deployment_id, t.token_type, t.uses,
       (SELECT count(*) FROM detached)::int8 AS runs_detached,
       (SELECT count(*) FROM gone)::int8 AS deleted
  FROM token t
