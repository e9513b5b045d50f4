-- Whether the tables bot and course_deployment exist (a partly migrated database):
-- then the planned deployments leave out those that exist.
SELECT to_regclass('course_deployment') IS NOT NULL AND to_regclass('bot') IS NOT NULL
