-- Upstream's migrations recorded after the last one a migration here records ($1):
-- the upstream project's own later migrations, applied since.
SELECT version::text FROM schema_migrations WHERE version > $1::text ORDER BY version
