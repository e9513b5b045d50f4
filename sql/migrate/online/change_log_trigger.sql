-- The change-log trigger function of one legacy table (see change_log.sql), a template
-- that src/migrate/changes.rs fills in for each of the eight legacy tables from the
-- legacy columns it knows (src/sql.rs `legacy_columns`, `legacy_key`):
--   {{table}}       the table, quoted            {{name}}     the table, as a literal
--   {{function}}    profochat_saas.change_log_<table>
--   {{old_key}} / {{new_key}}    jsonb_build_object of OLD's / NEW's key columns
--   {{old_hash}}    the fingerprint hash of OLD's legacy columns (src/fingerprint.rs)
--   {{old_legacy}} / {{new_legacy}}  ROW(...) of OLD's / NEW's legacy columns
-- The trigger is AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, named
-- profochat_saas_change_log. It does nothing for the migration's own writes
-- (profochat_saas.backfill = on), nor for an UPDATE that leaves every legacy column as
-- it was (a change of the columns the migration added only). It runs as its owner, so
-- that the bot's role needs no privilege on profochat_saas.change_log.

CREATE OR REPLACE FUNCTION {{function}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO profochat_saas.change_log (table_name, key, action)
             VALUES ({{name}}, {{new_key}}, 'inserted');
    ELSIF TG_OP = 'UPDATE' THEN
        IF {{old_legacy}} IS NOT DISTINCT FROM {{new_legacy}} THEN
            RETURN NULL;
        END IF;
        INSERT INTO profochat_saas.change_log (table_name, key, action, old_hash)
             VALUES ({{name}}, {{old_key}}, 'updated', {{old_hash}});
        IF {{old_key}} <> {{new_key}} THEN
            INSERT INTO profochat_saas.change_log (table_name, key, action)
                 VALUES ({{name}}, {{new_key}}, 'inserted');
        END IF;
    ELSE
        INSERT INTO profochat_saas.change_log (table_name, key, action, old_hash)
             VALUES ({{name}}, {{old_key}}, 'deleted', {{old_hash}});
    END IF;
    RETURN NULL;
END
$fn$;
