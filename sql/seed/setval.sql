-- Moves a sequence past the loaded keys: $1 sequence, $2 value, $3 whether $2 was used.
SELECT setval(($1::text)::regclass, $2::int8, $3::bool)
