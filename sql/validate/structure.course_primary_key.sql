-- course's primary key must be (course_id, account_id), in either column order.
WITH pk AS (
    SELECT array_agg(a.attname::text ORDER BY array_position(con.conkey, a.attnum)) AS cols,
           array_agg(a.attname::text ORDER BY a.attname) AS sorted
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (con.conkey)
     WHERE n.nspname = current_schema() AND c.relname = 'course' AND con.contype = 'p'
), bad AS (
    SELECT CASE WHEN cols IS NULL THEN 'course has no primary key'
                ELSE format('course''s primary key is (%s)', array_to_string(cols, ', '))
           END AS problem
      FROM pk
     WHERE sorted IS DISTINCT FROM ARRAY['account_id', 'course_id']
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT problem FROM bad) AS examples;
