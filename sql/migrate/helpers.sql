-- Session-local helpers used by the migration scripts. They live in pg_temp,
-- so they vanish with the session and never become part of the schema.

-- An index as upstream's catalog listing writes it: "[UNIQUE ]table USING method (keys)[ WHERE …]"
-- (pg_get_indexdef without "CREATE", the index name and the schema). sql/status/catalog.sql
-- reads the live catalog in the same form.
CREATE OR REPLACE FUNCTION pg_temp.index_shape(idx oid)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT regexp_replace(pg_get_indexdef(idx), '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?(\S+\.)?', '\1')
$$;

-- A constraint named `name` on `tbl` with exactly `definition` (as pg_get_constraintdef
-- writes it, so that what exists is compared with what is wanted):
--   - the same name and definition: nothing to do (a NOT VALID one stays for validate to report);
--   - the same name, another definition (a key of an older shape, such as course's
--     primary key (course_id, account_id) of older profochat-saas versions): dropped with
--     what depends on it, and made anew; the foreign keys dropped with it come later in
--     the file, so they are made again too;
--   - a primary key of the same definition under another name: renamed;
--   - else: added.
CREATE OR REPLACE FUNCTION pg_temp.ensure_constraint(tbl regclass, name text, definition text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    existing text;
    other text;
BEGIN
    SELECT regexp_replace(pg_get_constraintdef(c.oid), ' NOT VALID$', '') INTO existing
      FROM pg_constraint c WHERE c.conrelid = tbl AND c.conname = name;
    IF existing = definition THEN
        RETURN;
    END IF;
    IF existing IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I CASCADE', tbl, name);
    ELSIF definition LIKE 'PRIMARY KEY %' THEN
        SELECT c.conname INTO other FROM pg_constraint c
         WHERE c.conrelid = tbl AND c.contype = 'p' AND pg_get_constraintdef(c.oid) = definition;
        IF other IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', tbl, other, name);
            RETURN;
        END IF;
    END IF;
    IF definition LIKE 'PRIMARY KEY %' THEN
        -- A table has one primary key: one of another shape goes first.
        SELECT c.conname INTO other FROM pg_constraint c WHERE c.conrelid = tbl AND c.contype = 'p';
        IF other IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I CASCADE', tbl, other);
        END IF;
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, name, definition);
END $$;

-- An index named `name` with `definition`, written as upstream's catalog writes it
-- ("[UNIQUE ]table USING btree (…)[ WHERE …]"; a leading "ON " is accepted too). One of
-- that name that is invalid (an interrupted concurrent build), of another shape, or
-- that backs a constraint (a unique index that older versions made a unique
-- constraint) is replaced.
CREATE OR REPLACE FUNCTION pg_temp.ensure_index(name text, definition text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    wanted text := regexp_replace(definition, '^(UNIQUE )?(ON )?', '\1');
    idx oid;
    valid boolean;
    tbl regclass;
    backing text;
BEGIN
    SELECT c.oid, i.indisvalid, i.indrelid::regclass INTO idx, valid, tbl
      FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
     WHERE c.relname = name AND c.relnamespace = current_schema()::regnamespace;
    IF idx IS NOT NULL THEN
        SELECT con.conname INTO backing FROM pg_constraint con WHERE con.conindid = idx AND con.contype IN ('p', 'u', 'x');
        IF valid AND backing IS NULL AND pg_temp.index_shape(idx) = wanted THEN
            RETURN;
        END IF;
        IF backing IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I CASCADE', tbl, backing);
        ELSE
            EXECUTE format('DROP INDEX %I', name);
        END IF;
    END IF;
    EXECUTE format('CREATE %s %I ON %s',
                   CASE WHEN wanted LIKE 'UNIQUE %' THEN 'UNIQUE INDEX' ELSE 'INDEX' END,
                   name,
                   regexp_replace(wanted, '^UNIQUE ', ''));
END $$;

-- A key or index that an older profochat-saas version named `old` gets upstream's
-- name `new` (a catalog change, instant). Should both exist, the old one is a
-- duplicate and goes. Its definition is checked afterwards, by ensure_constraint,
-- ensure_index or the index builds of phase 5.
CREATE OR REPLACE FUNCTION pg_temp.rename_key(tbl regclass, old text, new text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    new_exists boolean := EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = tbl AND conname = new)
                       OR EXISTS (SELECT 1 FROM pg_class WHERE relname = new AND relnamespace = current_schema()::regnamespace);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = tbl AND conname = old) THEN
        IF new_exists THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, old);
        ELSE
            EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', tbl, old, new);
        END IF;
    ELSIF EXISTS (SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
                   WHERE c.relname = old AND c.relnamespace = current_schema()::regnamespace AND i.indrelid = tbl) THEN
        IF new_exists THEN
            EXECUTE format('DROP INDEX %I', old);
        ELSE
            EXECUTE format('ALTER INDEX %I RENAME TO %I', old, new);
        END IF;
    END IF;
END $$;

-- Rows of renamed course copies follow their course: each row of `tbl` whose course_id
-- and bot name (column `bot`; the default bot of `params` when NULL) the map `map`
-- renames (course_id, bot_name → new_course_id) gets the copy's new id, and the old one
-- goes to the archive, with the migration id of `params`. `key` is the table's primary
-- key. With `batch` (the backfill's key range, lo and hi), only the rows of the
-- default account whose `key` is in [lo, hi) and that are not linked yet (bot_id NULL;
-- every one of them with profochat_saas.relink on); without, every row. The caller
-- names the work tables, so that its header lists what it reads (src/migrate/work.rs).
-- Returns each row moved: its key, its old and its new course id.
CREATE OR REPLACE FUNCTION pg_temp.follow_renamed_copies(tbl regclass, key text, bot text, map regclass, params regclass,
                                                         batch regclass DEFAULT NULL)
RETURNS TABLE (row_key int8, old_id text, new_course_id text) LANGUAGE plpgsql AS $f$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH moved AS (
            UPDATE %1$s t SET course_id = m.new_course_id
              FROM %4$s m
             WHERE t.course_id = m.course_id AND coalesce(t.%3$I, (SELECT default_bot FROM %5$s)) = m.bot_name %6$s
            RETURNING t.%2$I::int8 AS row_key, m.course_id::text AS old_id, m.new_course_id::text AS new_course_id
        ), archived AS (
            INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
            SELECT (SELECT migration_id FROM %5$s), %7$L, 'updated',
                   jsonb_build_object(%2$L, row_key), jsonb_build_object('course_id', old_id),
                   format('course %%s renamed to %%s for this bot', old_id, new_course_id)
              FROM moved
        )
        SELECT row_key, old_id, new_course_id FROM moved $q$,
        tbl, key, bot, map, params,
        CASE WHEN batch IS NOT NULL THEN format(
            $b$AND t.%1$I >= (SELECT lo FROM %2$s) AND t.%1$I < (SELECT hi FROM %2$s)
               AND (t.bot_id IS NULL OR current_setting('profochat_saas.relink', true) = 'on') AND t.account_id = 1$b$,
            key, batch) ELSE '' END,
        (SELECT c.relname FROM pg_class c WHERE c.oid = tbl));
END $f$;
