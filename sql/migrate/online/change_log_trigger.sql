-- The change-log trigger function of one legacy table (see change_log.sql), a template
-- that src/migrate/changes.rs fills in for each of the eight legacy tables from the
-- legacy columns it knows (src/sql.rs `legacy_columns`, `legacy_key`):
--   {{function}}  profochat_saas.change_log_<table>     {{name}}  the table, as a literal
--   {{table}}     the table, quoted                      {{names}} its legacy columns, as literals
--   {{schema}}    the table's schema, quoted (the function runs with a fixed search_path)
--   {{old_key}} / {{new_key}} / {{p_key}}    jsonb_build_object of the key columns of OLD / NEW / p
--   {{old_hash}} / {{p_hash}}    the fingerprint hash of OLD's / p's legacy columns
--                                (src/fingerprint.rs, so that the sums match)
--   {{old_legacy}} / {{new_legacy}}  ROW(...) of OLD's / NEW's legacy columns
-- The trigger is AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW, named
-- profochat_saas_change_log. It does nothing for the migration's own writes
-- (profochat_saas.backfill = on), nor for an UPDATE that leaves every legacy column as
-- it was (a change of the columns the migration added only). It runs as its owner, so
-- that the bot's role needs no privilege on profochat_saas, with a search_path of
-- pg_catalog and pg_temp (last) alone: nothing the writing session made can stand in for
-- what it reads.
--
-- The key and old_hash it logs are those of the row as the no-loss proof's
-- reconstruction holds it: the legacy tables with the migration's archived changes
-- reverted (profochat_saas.archive of the latest recorded migration). A row the
-- migration changed before the application does is logged under its key and with its
-- values from before that change; a row the migration inserted was not there (old_hash
-- NULL); an insert under the key of a row the migration deleted logs that row's hash
-- (the reconstruction holds it). Rows the migration has not touched are logged as they
-- are. The archive is read by key alone (archive_change_log_key, change_log.sql; each
-- legacy table's key columns have their own names), so that a write costs one index
-- lookup however large the archive and whatever the planner's statistics say of it (the
-- entries are ordered apart, OFFSET 0, so that no scan of the archive in archive_id
-- order can serve the lookup).

CREATE OR REPLACE FUNCTION {{function}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_migration int4;
    v_entry record;
    v_inserted boolean := false;
    v_row jsonb;
    v_key jsonb;
    v_hash numeric;
BEGIN
    IF current_setting('profochat_saas.backfill', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF {{old_legacy}} IS NOT DISTINCT FROM {{new_legacy}} THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT max(mg.migration_id) INTO v_migration FROM profochat_saas.migration mg;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_key := {{old_key}};
        FOR v_entry IN SELECT * FROM (SELECT ar.archive_id, ar.table_name, ar.migration_id, ar.action, ar.row
                                        FROM profochat_saas.archive ar WHERE ar.key = v_key OFFSET 0) e
                        ORDER BY e.archive_id LOOP
            CONTINUE WHEN v_entry.table_name <> {{name}} OR v_entry.migration_id IS DISTINCT FROM v_migration;
            IF v_entry.action = 'inserted' THEN
                v_inserted := true;
            ELSIF v_entry.action = 'updated' AND v_row IS NULL AND v_entry.row ?| ARRAY[{{names}}] THEN
                v_row := v_entry.row;
            END IF;
        END LOOP;
        IF v_inserted THEN
            v_hash := NULL;
        ELSIF v_row IS NULL THEN
            v_hash := {{old_hash}};
        ELSE
            SELECT {{p_key}}, {{p_hash}} INTO v_key, v_hash FROM jsonb_populate_record(OLD, v_row) p;
        END IF;
        INSERT INTO profochat_saas.change_log (table_name, key, action, old_hash)
             VALUES ({{name}}, v_key, CASE TG_OP WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END, v_hash);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND {{old_key}} <> {{new_key}}) THEN
        v_key := {{new_key}};
        v_hash := NULL;
        FOR v_entry IN SELECT * FROM (SELECT ar.archive_id, ar.table_name, ar.migration_id, ar.action, ar.row
                                        FROM profochat_saas.archive ar WHERE ar.key = v_key OFFSET 0) e
                        ORDER BY e.archive_id LOOP
            IF v_entry.table_name = {{name}} AND v_entry.migration_id = v_migration AND v_entry.action = 'deleted' THEN
                SELECT {{p_hash}} INTO v_hash FROM jsonb_populate_record(NULL::{{schema}}.{{table}}, v_entry.row) p;
                EXIT;
            END IF;
        END LOOP;
        INSERT INTO profochat_saas.change_log (table_name, key, action, old_hash)
             VALUES ({{name}}, v_key, 'inserted', v_hash);
    END IF;
    RETURN NULL;
END
$fn$;
