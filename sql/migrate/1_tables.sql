-- Phase 1: the new tables, and the new columns of the legacy tables (nullable for now;
-- phase 4 adds keys, foreign keys and NOT NULL once phases 2 and 3 filled them).
-- Every column is also added on its own, so tables made by hand or by an older
-- script are completed rather than trusted.

CREATE TABLE IF NOT EXISTS account_member (
    account_member_id serial PRIMARY KEY,
    account_id        int4 NOT NULL,
    telegram_user_id  int8 NOT NULL,
    telegram_username text,
    role              text DEFAULT 'member',
    created_at        timestamp DEFAULT CURRENT_TIMESTAMP,
    last_login_at     timestamp,
    is_active         boolean DEFAULT true
);
ALTER TABLE account_member ADD COLUMN IF NOT EXISTS telegram_username text;
ALTER TABLE account_member ADD COLUMN IF NOT EXISTS role text DEFAULT 'member';
ALTER TABLE account_member ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE account_member ADD COLUMN IF NOT EXISTS last_login_at timestamp;
ALTER TABLE account_member ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;

CREATE TABLE IF NOT EXISTS bot (
    bot_id       serial PRIMARY KEY,
    account_id   int4 NOT NULL,
    bot_name     text NOT NULL,
    bot_token    text NOT NULL,
    display_name text,
    description  text,
    created_at   timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at   timestamp DEFAULT CURRENT_TIMESTAMP,
    is_active    boolean DEFAULT true,
    settings     jsonb
);
ALTER TABLE bot ADD COLUMN IF NOT EXISTS bot_token text;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS display_name text;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS updated_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE bot ADD COLUMN IF NOT EXISTS settings jsonb;

CREATE TABLE IF NOT EXISTS course_deployment (
    deployment_id serial PRIMARY KEY,
    course_id     text NOT NULL,
    account_id    int4 NOT NULL,
    bot_id        int4 NOT NULL,
    environment   text DEFAULT 'prod',
    is_active     boolean DEFAULT true,
    created_at    timestamp DEFAULT CURRENT_TIMESTAMP,
    updated_at    timestamp DEFAULT CURRENT_TIMESTAMP,
    settings      jsonb
);
ALTER TABLE course_deployment ADD COLUMN IF NOT EXISTS environment text DEFAULT 'prod';
ALTER TABLE course_deployment ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE course_deployment ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE course_deployment ADD COLUMN IF NOT EXISTS updated_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE course_deployment ADD COLUMN IF NOT EXISTS settings jsonb;

CREATE TABLE IF NOT EXISTS enrollment_token (
    token_id      serial PRIMARY KEY,
    deployment_id int4 NOT NULL,
    token         text NOT NULL,
    token_type    text DEFAULT 'public',
    max_uses      int4,
    current_uses  int4 DEFAULT 0,
    expires_at    timestamp,
    created_at    timestamp DEFAULT CURRENT_TIMESTAMP,
    created_by    int8,
    is_active     boolean DEFAULT true,
    metadata      jsonb
);
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS token_type text DEFAULT 'public';
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS max_uses int4;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS current_uses int4 DEFAULT 0;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS expires_at timestamp;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS created_by int8;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE enrollment_token ADD COLUMN IF NOT EXISTS metadata jsonb;

ALTER TABLE course ADD COLUMN IF NOT EXISTS title text;
ALTER TABLE course ADD COLUMN IF NOT EXISTS description text;
-- No default until `finish` (finish/upstream_columns.sql gives upstream's): the
-- compatibility layer tells the legacy bot's course inserts by their NULL updated_at.
ALTER TABLE course ADD COLUMN IF NOT EXISTS updated_at timestamp;
ALTER TABLE course ADD COLUMN IF NOT EXISTS metadata jsonb;
ALTER TABLE course ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;

ALTER TABLE run ADD COLUMN IF NOT EXISTS bot_id int4;
ALTER TABLE run ADD COLUMN IF NOT EXISTS deployment_id int4;
ALTER TABLE run ADD COLUMN IF NOT EXISTS token_id int4;
ALTER TABLE run ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE run ADD COLUMN IF NOT EXISTS ended_at timestamp;
ALTER TABLE run ADD COLUMN IF NOT EXISTS utm_medium text;
ALTER TABLE run ADD COLUMN IF NOT EXISTS utm_term text;
ALTER TABLE run ADD COLUMN IF NOT EXISTS utm_content text;
ALTER TABLE run ADD COLUMN IF NOT EXISTS metadata jsonb;

ALTER TABLE waiting_element ADD COLUMN IF NOT EXISTS bot_id int4;
ALTER TABLE waiting_element ADD COLUMN IF NOT EXISTS run_id int4;
-- Never recorded for legacy rows: NULL for them, now() for rows written from here on.
ALTER TABLE waiting_element ADD COLUMN IF NOT EXISTS created_at timestamp;
ALTER TABLE waiting_element ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE bannedparticipants ADD COLUMN IF NOT EXISTS bot_id int4;
ALTER TABLE bannedparticipants ADD COLUMN IF NOT EXISTS metadata jsonb;

ALTER TABLE courseparticipants ADD COLUMN IF NOT EXISTS chat_id int8;
ALTER TABLE courseparticipants ADD COLUMN IF NOT EXISTS added_at timestamp;
ALTER TABLE courseparticipants ALTER COLUMN added_at SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE courseparticipants ADD COLUMN IF NOT EXISTS added_by int8;

ALTER TABLE gen_settings ADD COLUMN IF NOT EXISTS bot_id int4;
ALTER TABLE gen_settings ADD COLUMN IF NOT EXISTS created_at timestamp;
ALTER TABLE gen_settings ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE gen_settings ADD COLUMN IF NOT EXISTS updated_at timestamp;
ALTER TABLE gen_settings ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;
