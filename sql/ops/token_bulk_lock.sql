-- Two bulk runs at once would both find a deployment without a public token.
SELECT pg_advisory_xact_lock(hashtext('profochat_saas.token_public_for_all'))
