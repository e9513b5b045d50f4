-- profochat_saas.migration records a completed migration. A row written by the
-- current transaction also counts: that is the migration validating itself before
-- its commit. $1: the statuses of a migrated database (MigrationStatus::migrated).
WITH newest AS (
    SELECT migration_id, status FROM profochat_saas.migration ORDER BY migration_id DESC LIMIT 1
), bad AS (
    SELECT CASE WHEN n.migration_id IS NULL THEN 'no migration is recorded in profochat_saas.migration'
                ELSE format('no completed migration; the newest (#%s) is %L', n.migration_id, n.status)
           END AS problem
      FROM (SELECT 1) AS one
      LEFT JOIN newest n ON true
     WHERE NOT EXISTS (SELECT 1 FROM profochat_saas.migration m
                        WHERE m.status = ANY ($1::text[])
                           OR m.xmin::text::int8 = txid_current_if_assigned() % 4294967296)
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT problem FROM bad) AS examples;
