-- Course ids that rows reference and no course row holds, with who references them.
-- Reads mig_missing_course (temporary, sql/migrate/analysis.sql).
-- reads: mig_missing_course
SELECT course_id, tables, refs, bot_name FROM mig_missing_course ORDER BY course_id
