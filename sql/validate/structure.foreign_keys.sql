-- Foreign keys, by upstream's names: missing, referencing the wrong table, with the
-- wrong ON DELETE action, of another definition than upstream's, or NOT VALID.
-- $1: tables, $2: constraint names, $3: referenced tables, $4: ON DELETE actions as
-- pg_constraint.confdeltype, $6: upstream's definitions as pg_get_constraintdef writes
-- them (parallel arrays); $5: the one constraint whose NOT VALID state is checked on its own.
WITH actions (code, words) AS (
    VALUES ('a', 'NO ACTION'), ('r', 'RESTRICT'), ('c', 'CASCADE'), ('n', 'SET NULL'), ('d', 'SET DEFAULT')
), checked AS (
    SELECT w.tbl, w.name, w.ord,
           CASE WHEN x.conname IS NULL THEN 'is missing'
                WHEN x.ref <> w.ref THEN format('references %s instead of %s', x.ref, w.ref)
                WHEN x.action <> w.action THEN format('is ON DELETE %s instead of ON DELETE %s',
                     (SELECT words FROM actions WHERE code = x.action),
                     (SELECT words FROM actions WHERE code = w.action))
                WHEN x.definition <> w.definition THEN format('is %s instead of upstream''s %s', x.definition, w.definition)
                WHEN NOT x.convalidated AND w.name <> $5::text THEN 'is NOT VALID (existing rows were never checked)'
           END AS problem
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::text[]) WITH ORDINALITY AS w(tbl, name, ref, action, definition, ord)
      LEFT JOIN LATERAL (
           SELECT con.conname, rc.relname::text AS ref, con.confdeltype::text AS action, con.convalidated,
                  regexp_replace(pg_get_constraintdef(con.oid), ' NOT VALID$', '') AS definition
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
