-- Phase 0: the account table, the default account, and account_id on every legacy table.
-- Adding a column with a constant default is instant (no table rewrite) since PostgreSQL 11.

CREATE TABLE IF NOT EXISTS account (
    account_id serial PRIMARY KEY,
    name       text NOT NULL,
    slug       text NOT NULL,
    plan       text DEFAULT 'free',
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamp DEFAULT CURRENT_TIMESTAMP,
    is_active  boolean DEFAULT true,
    settings   jsonb
);
-- A hand-made account table may lack columns, names, slugs or its sequence.
ALTER TABLE account ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE account ADD COLUMN IF NOT EXISTS slug text;
UPDATE account SET name = coalesce(name, CASE WHEN account_id = 1 THEN 'Default Account' ELSE 'Account ' || account_id END),
                   slug = coalesce(slug, CASE WHEN account_id = 1 THEN 'default' ELSE 'account-' || account_id END)
 WHERE name IS NULL OR slug IS NULL;
ALTER TABLE account ALTER COLUMN name SET NOT NULL, ALTER COLUMN slug SET NOT NULL;
DO $$
BEGIN
    IF pg_get_serial_sequence('account', 'account_id') IS NULL THEN
        CREATE SEQUENCE IF NOT EXISTS account_account_id_seq OWNED BY account.account_id;
        ALTER TABLE account ALTER COLUMN account_id SET DEFAULT nextval('account_account_id_seq');
    END IF;
END $$;
ALTER TABLE account ADD COLUMN IF NOT EXISTS plan text DEFAULT 'free';
ALTER TABLE account ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE account ADD COLUMN IF NOT EXISTS updated_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE account ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE account ADD COLUMN IF NOT EXISTS settings jsonb;
SELECT pg_temp.ensure_constraint('account', 'account_slug_key', 'UNIQUE (slug)');

INSERT INTO account (account_id, name, slug, plan)
VALUES (1, 'Default Account', 'default', 'free')
ON CONFLICT (account_id) DO NOTHING;
SELECT setval(pg_get_serial_sequence('account', 'account_id'),
              greatest(1, (SELECT max(account_id) FROM account)));

ALTER TABLE course             ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE course_element     ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE run                ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE conversation       ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE waiting_element    ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE bannedparticipants ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
ALTER TABLE courseparticipants ADD COLUMN IF NOT EXISTS account_id int4 NOT NULL DEFAULT 1;
-- gen_settings.account_id stays nullable (SPEC §2); legacy settings all belong to account 1.
ALTER TABLE gen_settings       ADD COLUMN IF NOT EXISTS account_id int4 DEFAULT 1;

-- A column added by hand earlier may hold NULLs. Only a nullable column is filled:
-- one that is NOT NULL already (as the ADD COLUMN above makes it) holds none, and
-- scanning the biggest tables for nothing would cost seconds.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['course', 'course_element', 'run', 'conversation', 'waiting_element',
                             'bannedparticipants', 'courseparticipants', 'gen_settings'] LOOP
        IF EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = t::regclass AND attname = 'account_id' AND NOT attnotnull) THEN
            EXECUTE format('UPDATE %I SET account_id = 1 WHERE account_id IS NULL', t);
        END IF;
    END LOOP;
END $$;
-- ...and may lack the default and NOT NULL.
ALTER TABLE course             ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE course_element     ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE run                ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE conversation       ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE waiting_element    ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE bannedparticipants ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE courseparticipants ALTER COLUMN account_id SET DEFAULT 1, ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE gen_settings       ALTER COLUMN account_id SET DEFAULT 1;
