-- Row-level security of one table for one isolated role. {table}, {role} and {policy}
-- are quoted identifiers. The permissive policy profochat_tenant_all keeps every other
-- role's access as it was (only where the tool turned row-level security on: a table
-- whose security was on already keeps its own policies); the restrictive policy of the
-- role lets it see and write only the rows of the account its transaction names in
-- profochat.account_id (unset or empty: no row). The table's owner (the tool's role) is
-- not subject to it: row-level security is not forced.
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {policy} ON {table};
CREATE POLICY {policy} ON {table} AS RESTRICTIVE FOR ALL TO {role}
    USING (account_id = NULLIF(pg_catalog.current_setting('profochat.account_id', true), '')::int4)
    WITH CHECK (account_id = NULLIF(pg_catalog.current_setting('profochat.account_id', true), '')::int4);
