-- For the report: course deployments after the migration.
SELECT count(*) FROM course_deployment
