-- One database by name: whether it exists, and what a copy of it must match
-- (encoding, locale, owner). No row when it does not exist.
SELECT d.datname::text,
       pg_encoding_to_char(d.encoding)::text AS encoding,
       d.datcollate::text,
       d.datctype::text,
       pg_get_userbyid(d.datdba)::text AS owner,
       pg_get_userbyid(d.datdba) = current_user AS owned_by_me
  FROM pg_database d
 WHERE d.datname = $1
