-- `bench --compare-upstream`, after upstream's 0003 ran: it recorded itself in its ledger
-- (its last statement before COMMIT), so the script ran to its end and committed.
SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '0003')
