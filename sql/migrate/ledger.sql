-- Upstream's migration ledger. The upstream project records its numbered migrations
-- in schema_migrations; a database migrated here is what its 0001 and 0003 make, so
-- both are recorded (ledger_record.sql) and its later migrations apply to it as to
-- upstream's own. A table that exists already (upstream's tool ran here) is kept.
DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NULL THEN
        CREATE TABLE schema_migrations (
            version           varchar(255) PRIMARY KEY,
            description       text,
            applied_at        timestamp DEFAULT CURRENT_TIMESTAMP,
            applied_by        text,
            execution_time_ms int
        );
        INSERT INTO profochat_saas.created_object (object) VALUES ('table schema_migrations')
        ON CONFLICT (object) DO NOTHING;
    END IF;
END $$;
-- 0001's index of the ledger (dropped with the table when this tool created it).
CREATE INDEX IF NOT EXISTS idx_schema_migrations_applied_at ON schema_migrations (applied_at);
