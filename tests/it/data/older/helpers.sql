-- Session-local helpers used by the migration scripts. They live in pg_temp,
-- so they vanish with the session and never become part of the schema.

CREATE OR REPLACE FUNCTION pg_temp.ensure_constraint(tbl regclass, name text, definition text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = tbl AND conname = name) THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, name, definition);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION pg_temp.ensure_index(name text, definition text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- An index of that name that a failed concurrent build left invalid is rebuilt.
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
               WHERE c.relname = name AND c.relnamespace = current_schema()::regnamespace
                 AND NOT i.indisvalid) THEN
        EXECUTE format('DROP INDEX %I', name);
    END IF;
    EXECUTE format('CREATE %s IF NOT EXISTS %I %s',
                   CASE WHEN definition ILIKE 'UNIQUE %' THEN 'UNIQUE INDEX' ELSE 'INDEX' END,
                   name,
                   regexp_replace(definition, '^UNIQUE ', '', 'i'));
END $$;
