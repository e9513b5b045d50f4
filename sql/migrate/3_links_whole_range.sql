-- Phase 3, offline: the key range of the online backfill statements that phase 3 runs
-- once for the small tables (3_links.sql says which): every key, and every row linked
-- again, as phase 3 always links (a database partly migrated by hand included).
-- creates: mig_batch
-- drops: mig_batch
DROP TABLE IF EXISTS pg_temp.mig_batch;
CREATE TEMP TABLE mig_batch (lo int8 NOT NULL, hi int8 NOT NULL) ON COMMIT DROP;
INSERT INTO mig_batch VALUES (-9223372036854775808, 9223372036854775807);
SET LOCAL profochat_saas.relink = on;
