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
    -- 'completed': data and keys committed; 'indexes_pending': committed, secondary
    -- indexes still being built (or interrupted); 'rolled_back': undone by `rollback`.
    status        text NOT NULL,
    phases        jsonb NOT NULL DEFAULT '[]',
    fingerprint_before jsonb,
    fingerprint_after  jsonb,
    summary       jsonb
);

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
CREATE INDEX IF NOT EXISTS archive_migration_table ON profochat_saas.archive (migration_id, table_name, action);

-- Objects outside this schema that the tool created (such as upstream's
-- schema_migrations when the database had none), so that `rollback` removes exactly
-- those and nothing the database had before.
CREATE TABLE IF NOT EXISTS profochat_saas.created_object (
    object     text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
