-- Foreign keys, by name: missing, referencing the wrong table, with the wrong ON
-- DELETE action, or NOT VALID. $1: tables, $2: constraint names, $3: referenced
-- tables, $4: ON DELETE actions as pg_constraint.confdeltype (parallel arrays);
-- $5: the one constraint whose NOT VALID state is checked on its own.
WITH actions (code, words) AS (
    VALUES ('a', 'NO ACTION'), ('r', 'RESTRICT'), ('c', 'CASCADE'), ('n', 'SET NULL'), ('d', 'SET DEFAULT')
), checked AS (
    SELECT w.tbl, w.name, w.ord,
           CASE WHEN x.conname IS NULL THEN 'is missing'
                WHEN x.ref <> w.ref THEN format('references %s instead of %s', x.ref, w.ref)
                WHEN x.action <> w.action THEN format('is ON DELETE %s instead of ON DELETE %s',
                     (SELECT words FROM actions WHERE code = x.action),
                     (SELECT words FROM actions WHERE code = w.action))
                WHEN NOT x.convalidated AND w.name <> $5::text THEN 'is NOT VALID (existing rows were never checked)'
           END AS problem
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS w(tbl, name, ref, action, ord)
      LEFT JOIN LATERAL (
           SELECT con.conname, rc.relname::text AS ref, con.confdeltype::text AS action, con.convalidated
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_class rc ON rc.oid = con.confrelid
            WHERE n.nspname = current_schema() AND c.relname = w.tbl
              AND con.conname = w.name AND con.contype = 'f') x ON true
), bad AS (
    SELECT * FROM checked WHERE problem IS NOT NULL
)
SELECT (SELECT count(*) FROM bad)::int8 AS offending,
       ARRAY(SELECT format('%s.%s %s', tbl, name, problem) FROM bad ORDER BY ord LIMIT 10) AS examples;
