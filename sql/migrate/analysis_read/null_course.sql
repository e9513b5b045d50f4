-- Rows with a NULL course_id, per table. Reads mig_null_course (temporary, sql/migrate/analysis.sql).
-- reads: mig_null_course
SELECT table_name, n FROM mig_null_course WHERE n > 0
