-- Every other role keeps the rows it could reach before row-level security was turned
-- on by the tool (see policy.sql). {table} is a quoted identifier.
DROP POLICY IF EXISTS profochat_tenant_all ON {table};
CREATE POLICY profochat_tenant_all ON {table} AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
