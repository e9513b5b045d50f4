-- Before the analysis: a parameter table left by an earlier analysis in the same
-- transaction goes first (mig_params is dropped at the transaction's end anyway).
-- drops: mig_params
DROP TABLE IF EXISTS pg_temp.mig_params
