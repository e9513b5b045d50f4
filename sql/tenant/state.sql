-- Tenant isolation (`profochat-saas tenant isolate --role ROLE`): the roles isolated,
-- and the tables whose row-level security the tool turned on (`rls_before` says
-- whether it was on already, so that the last `--undo` leaves a table as it found it).
-- In the tool's state schema; `rollback` removes the isolation with the schema,
-- `finish` keeps it (the application's roles stay isolated after it).
CREATE TABLE IF NOT EXISTS profochat_saas.tenant_isolation (
    role_name   text PRIMARY KEY,
    isolated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS profochat_saas.tenant_isolation_table (
    table_name  text PRIMARY KEY,
    rls_before  boolean NOT NULL
);
REVOKE ALL ON profochat_saas.tenant_isolation, profochat_saas.tenant_isolation_table FROM PUBLIC;
