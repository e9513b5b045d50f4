-- The online preflight's analysis, the one read of whole tables before the chat index
-- exists: it runs in its one backend, without parallel workers (SET LOCAL: that
-- transaction only). Until the chat index is built the legacy bot's course end reads
-- the whole run table; parallel workers would take every core from it and make it wait
-- (measured at 1,000,000 runs, README).
SET LOCAL max_parallel_workers_per_gather = 0
