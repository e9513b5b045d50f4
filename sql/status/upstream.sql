-- Whether upstream's migration ledger and the enrolment function ($1) exist.
SELECT to_regclass('schema_migrations') IS NOT NULL AS ledger,
       to_regprocedure($1::text) IS NOT NULL AS enrol_function
