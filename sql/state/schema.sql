-- The tool's own bookkeeping, in its own schema so that it never mixes with the
-- application's tables. `migration` records every run; `archive` holds every legacy
-- row or value that the new keys could not keep, with what it was.

CREATE SCHEMA IF NOT EXISTS profochat_saas;

CREATE TABLE IF NOT EXISTS profochat_saas.migration (
    migration_id  serial PRIMARY KEY,
    schema_version int4 NOT NULL,
    tool_version  text NOT NULL,
    options       jsonb NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    -- Where the migration stands (src/state.rs, MigrationStatus; the CHECK below lists
    -- every value): 'running': inside the offline migration's transaction (never seen
    -- committed); 'in_progress': an online migration between its first step and its
    -- switch; 'indexes_pending': committed, secondary indexes still being built (or
    -- interrupted); 'completed': data, keys and indexes in place; 'finished': `finish`
    -- removed the legacy interface and the compatibility layer; 'rolled_back': undone;
    -- 'aborting': `migrate --abort` of an online migration under way (undo_progress).
    status        text NOT NULL,
    phases        jsonb NOT NULL DEFAULT '[]',
    fingerprint_before jsonb,
    fingerprint_after  jsonb,
    summary       jsonb
);
-- The statuses the tool writes, and no other. Added here rather than in CREATE TABLE
-- so that a state table made by an earlier version gets it too, and replaced when an
-- earlier version's CHECK lacks a status ('aborting' came later).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                WHERE conrelid = 'profochat_saas.migration'::regclass AND conname = 'migration_status_check'
                  AND pg_get_constraintdef(oid) NOT LIKE '%''aborting''%') THEN
        ALTER TABLE profochat_saas.migration DROP CONSTRAINT migration_status_check;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'profochat_saas.migration'::regclass AND conname = 'migration_status_check') THEN
        ALTER TABLE profochat_saas.migration ADD CONSTRAINT migration_status_check
            CHECK (status IN ('running', 'in_progress', 'indexes_pending', 'completed', 'finished', 'rolled_back', 'aborting'));
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS profochat_saas.archive (
    archive_id   bigserial PRIMARY KEY,
    -- No foreign key to migration: checking it costs a trigger call per archived row.
    migration_id int4 NOT NULL,
    table_name   text NOT NULL,
    -- 'deleted': the whole legacy row (row holds every legacy column);
    -- 'updated': the row was changed (row holds the old values of the changed columns
    --            only, key holds the row's key after the change). A migration changes
    --            each legacy value at most once, so a row has at most one entry whose
    --            row names legacy columns (a deactivated run's entry names is_active);
    -- 'inserted': the migration added this row to a legacy table (row is NULL).
    action       text NOT NULL CHECK (action IN ('deleted', 'updated', 'inserted')),
    key          jsonb NOT NULL,
    row          jsonb,
    reason       text NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now()
);
-- A migration's entries of one table and action, in archive_id order: what the counts
-- read, and what each batch of the online way back reads (sql/rollback/undo_archive.sql:
-- an archive_id range, found by this index rather than filtered out of every entry of
-- the table). A database whose state schema an earlier version made keeps that
-- version's index archive_migration_table as well (it led with the same three columns).
CREATE INDEX IF NOT EXISTS archive_entry ON profochat_saas.archive (migration_id, table_name, action, archive_id);

-- What the legacy bot knew, where the target schema keeps it differently. The legacy
-- interface (schema profochat_legacy, sql/migrate/8_legacy_interface.sql) reads these
-- to show every legacy table as the legacy bot wrote it; `finish` drops them.

-- A bot's copy of a course that lives under another course_id in public (a differing
-- copy renamed by the migration, or split off when the bot published it again).
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_course_map (
    legacy_course_id text NOT NULL,
    bot_name         text NOT NULL,   -- resolved: a NULL legacy bot name is the default bot
    course_id        text NOT NULL,   -- the course in public (account 1)
    PRIMARY KEY (legacy_course_id, bot_name)
);
-- The same, one row per public course: the legacy id its rows are shown with.
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_course_name (
    course_id        text PRIMARY KEY,
    legacy_course_id text NOT NULL
);
-- Identical course copies merged into another bot's course row: the legacy rows as
-- they are now (the archive keeps them as they were at the migration).
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_course_copy (
    course_id    text NOT NULL,
    bot_name     text NOT NULL,
    creator_id   int8,
    date_created timestamp,
    yaml         text,
    PRIMARY KEY (course_id, bot_name)
);
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_element_copy (
    course_element_id int8 PRIMARY KEY,
    element_id        text,
    json              text,
    element_type      text,
    course_id         text,
    bot_name          text
);
-- Course rows that exist in public only so that references resolve (courses that live
-- in YAML files): the legacy bot never wrote them and does not see them.
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_hidden_course (
    course_id text PRIMARY KEY,
    reason    text NOT NULL   -- 'references': created for references; 'removed': the legacy bot deleted it
);
-- Elements written from the bots' YAML files (`migrate --courses-yml`, `course import`):
-- the legacy bot reads those courses from its files and does not see them.
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_hidden_element (
    course_element_id int8 PRIMARY KEY
);
-- Conversation rows whose run_id pointed at no run: public holds NULL, this the old value.
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_conversation_run (
    conversation_id int4 PRIMARY KEY,
    run_id          int4 NOT NULL
);

-- Roles whose search_path `migrate --legacy-role` or `legacy-role` set to the legacy
-- interface (in this database); `finish` and `rollback` set them back.
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_role (
    role_name text PRIMARY KEY,
    set_at    timestamptz NOT NULL DEFAULT now()
);

-- Objects outside this schema that the tool created (such as upstream's
-- schema_migrations when the database had none), so that `rollback` removes exactly
-- those and nothing the database had before.
CREATE TABLE IF NOT EXISTS profochat_saas.created_object (
    object     text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Where an online `migrate` stands (one row per migration): the last step done, the
-- step under way, and for a backfill the last key whose batch committed and the key it
-- goes up to. Written in the same transaction as each step's or batch's work, so a
-- resumed `migrate` redoes at most one batch. src/state.rs (OnlineStep) reads it.
CREATE TABLE IF NOT EXISTS profochat_saas.online_progress (
    migration_id int4 PRIMARY KEY,
    done         text,
    current      text,
    last_key     int8,
    max_key      int8,
    batches      int8 NOT NULL DEFAULT 0,
    rows         int8 NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
