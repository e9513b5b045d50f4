-- Rows per table that reference a missing course. Reads mig_course_refs and
-- mig_missing_course (temporary, sql/migrate/analysis.sql).
-- reads: mig_course_refs, mig_missing_course
SELECT r.table_name, sum(r.n)::int8 FROM mig_course_refs r JOIN mig_missing_course m USING (course_id) GROUP BY 1
