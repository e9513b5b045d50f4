-- Which of upstream's migrations ($1) schema_migrations records.
SELECT version::text FROM schema_migrations WHERE version = ANY ($1::text[]) ORDER BY version
