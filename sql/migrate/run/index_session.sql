-- Each connection that builds secondary indexes after the commit: sort in memory. The
-- builds are concurrent and one table at a time each, so the last ones (the biggest
-- table's) may use a parallel worker.
SET maintenance_work_mem = '256MB';
SET max_parallel_maintenance_workers = 1;
