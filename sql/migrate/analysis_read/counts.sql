-- Other counts of the analysis, by name (NULL flags, NULL run ids, large JSON texts).
-- Reads mig_counts (temporary, sql/migrate/analysis.sql).
-- reads: mig_counts
SELECT what, n FROM mig_counts
