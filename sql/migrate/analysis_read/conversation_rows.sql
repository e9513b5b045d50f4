-- Rows of conversation, the biggest table, as the analysis's one pass over it counted
-- them. Reads mig_conversation_stats (temporary, sql/migrate/analysis.sql).
-- reads: mig_conversation_stats
SELECT coalesce(sum(n), 0)::int8 FROM mig_conversation_stats
