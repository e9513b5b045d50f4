-- Each connection that builds secondary indexes after the commit: sort in memory, and
-- no parallel workers per build (the builds already run side by side on every core).
SET maintenance_work_mem = '256MB';
SET max_parallel_maintenance_workers = 0;
