-- The foreign key from conversation to run, by upstream's name. The migration adds it
-- itself: VALID once orphans are detached, NOT VALID (appended by the tool) with
-- --orphans keep, whose conversation rows keep run_ids of runs deleted long ago.
ALTER TABLE conversation ADD CONSTRAINT conversation_run_id_fkey FOREIGN KEY (run_id) REFERENCES run(run_id) ON DELETE CASCADE
