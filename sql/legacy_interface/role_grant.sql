-- The rights `legacy-role ROLE` (and `migrate --legacy-role ROLE`) moved: the role's
-- own grants on the tool's public tables and their sequences, revoked ('revoked'), and
-- what it was given instead on the legacy interface ('granted': the same rights on the
-- matching views, USAGE on the sequences their defaults call). `legacy-role --unset`,
-- `rollback` and `finish` take the 'granted' back and give the 'revoked' back, then
-- forget them. Created on first use; `finish` drops it (sql/finish/finish.sql).
CREATE TABLE IF NOT EXISTS profochat_saas.legacy_role_grant (
    role_name  text    NOT NULL,
    action     text    NOT NULL CHECK (action IN ('revoked', 'granted')),
    kind       text    NOT NULL CHECK (kind IN ('table', 'view', 'sequence')),
    object     text    NOT NULL,   -- schema-qualified, quoted
    privilege  text    NOT NULL,
    grantable  boolean NOT NULL DEFAULT false,
    moved_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_name, action, object, privilege)
);
REVOKE ALL ON profochat_saas.legacy_role_grant FROM PUBLIC;
