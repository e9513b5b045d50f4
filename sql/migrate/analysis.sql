-- The analysis behind both `plan` and `migrate`: session-local tables (pg_temp) that
-- say, for this database, which bots exist, which course copies are merged, renamed
-- or created, and which rows are anomalies. `plan` reads them and rolls back;
-- `migrate` reads them and applies them. Expects pg_temp.mig_params (default_bot).
-- The tool runs this file statement by statement (src/migrate/work.rs): each table is
-- indexed on the keys it is joined by and ANALYZEd before the next statement reads it.
-- No statement looks rows up one by one in a table that grows with the data: per-row
-- lookups are joins, anti-joins are NOT EXISTS in WHERE or LEFT JOIN … IS NULL.
-- reads: mig_params
-- creates: mig_ban_dups, mig_bot_source, mig_bots, mig_conversation_stats, mig_counts, mig_course_bot_refs, mig_course_copy, mig_course_map, mig_course_plan, mig_course_refs, mig_missing_course, mig_null_bot, mig_null_course, mig_orphans, mig_participant_dups, mig_run_deactivate, mig_run_dup_groups

-- Every distinct non-NULL bot name in the six legacy bot columns, with where it appears.
CREATE TEMP TABLE mig_bot_source ON COMMIT DROP AS
          SELECT DISTINCT botname AS bot_name, 'run' AS table_name FROM run WHERE botname IS NOT NULL
UNION ALL SELECT DISTINCT botname, 'waiting_element' FROM waiting_element WHERE botname IS NOT NULL
UNION ALL SELECT DISTINCT botname, 'bannedparticipants' FROM bannedparticipants WHERE botname IS NOT NULL
UNION ALL SELECT DISTINCT bot_name, 'course' FROM course WHERE bot_name IS NOT NULL
UNION ALL SELECT DISTINCT bot_name, 'course_element' FROM course_element WHERE bot_name IS NOT NULL
UNION ALL SELECT DISTINCT bot_name, 'gen_settings' FROM gen_settings WHERE bot_name IS NOT NULL;

CREATE TEMP TABLE mig_bots ON COMMIT DROP AS
SELECT bot_name, array_agg(table_name ORDER BY table_name) AS tables
  FROM mig_bot_source GROUP BY bot_name;

-- Rows whose bot name is NULL, per table (they belong to the default bot).
CREATE TEMP TABLE mig_null_bot ON COMMIT DROP AS
          SELECT 'run' AS table_name, count(*) AS n FROM run WHERE botname IS NULL
UNION ALL SELECT 'waiting_element', count(*) FROM waiting_element WHERE botname IS NULL
UNION ALL SELECT 'bannedparticipants', count(*) FROM bannedparticipants WHERE botname IS NULL
UNION ALL SELECT 'course_element', count(*) FROM course_element WHERE bot_name IS NULL
UNION ALL SELECT 'gen_settings', count(*) FROM gen_settings WHERE bot_name IS NULL;

-- Each course copy's content signature: its yaml and its elements in order.
CREATE TEMP TABLE mig_course_copy ON COMMIT DROP AS
SELECT c.course_id, c.bot_name, c.date_created,
       md5(coalesce(c.yaml, '<null>') || '|' || coalesce(e.elements, '')) AS sig
  FROM course c
  LEFT JOIN (SELECT e.course_id, coalesce(e.bot_name, (SELECT default_bot FROM mig_params)) AS bot_name,
                    string_agg(coalesce(e.element_id, '<null>') || '/' || coalesce(e.element_type, '<null>') || '/' || coalesce(e.json, '<null>'),
                               '|' ORDER BY e.course_element_id) AS elements
               FROM course_element e
              WHERE e.course_id IS NOT NULL
              GROUP BY 1, 2) e ON e.course_id = c.course_id AND e.bot_name = c.bot_name;

-- (course_id, resolved bot) pairs named by runs, waiting elements and elements, with counts.
CREATE TEMP TABLE mig_course_bot_refs ON COMMIT DROP AS
SELECT course_id, bot_name, sum(n)::int8 AS n FROM (
              SELECT course_id, coalesce(botname, (SELECT default_bot FROM mig_params)) AS bot_name, count(*) AS n
                FROM run WHERE course_id IS NOT NULL GROUP BY 1, 2
    UNION ALL SELECT course_id, coalesce(botname, (SELECT default_bot FROM mig_params)), count(*)
                FROM waiting_element WHERE course_id IS NOT NULL GROUP BY 1, 2
    UNION ALL SELECT course_id, coalesce(bot_name, (SELECT default_bot FROM mig_params)), count(*)
                FROM course_element WHERE course_id IS NOT NULL GROUP BY 1, 2
) x WHERE bot_name IS NOT NULL GROUP BY 1, 2;

-- Courses present under several bots. Per course_id, the content that most rows use
-- (runs, waiting elements, elements) keeps the id, so the fewest legacy rows change;
-- a tie goes to the oldest copy. Copies with the same content merge into one course
-- (its oldest copy's row); each other content gets one renamed course.
CREATE TEMP TABLE mig_course_plan ON COMMIT DROP AS
WITH copies AS (
    SELECT cc.course_id, cc.bot_name, cc.date_created, cc.sig, coalesce(br.n, 0) AS refs,
           count(*) OVER (PARTITION BY cc.course_id) AS copies,
           row_number() OVER (PARTITION BY cc.course_id, cc.sig ORDER BY cc.date_created NULLS LAST, cc.bot_name) AS rank_in_sig
      FROM mig_course_copy cc
      LEFT JOIN mig_course_bot_refs br ON br.course_id = cc.course_id AND br.bot_name = cc.bot_name
), ranked AS (
    -- Per content: the rows that use it, and its oldest copy.
    SELECT c.*, sum(refs) OVER (PARTITION BY course_id, sig) AS version_refs,
           first_value(bot_name) OVER (PARTITION BY course_id, sig ORDER BY rank_in_sig) AS first_bot
      FROM copies c WHERE copies > 1
), keyed AS (
    -- Per course_id: how many contents, and the keeper (the oldest copy of the content most rows use).
    SELECT r.*, count(*) FILTER (WHERE rank_in_sig = 1) OVER (PARTITION BY course_id) AS contents,
           first_value(sig) OVER k AS keeper_sig, first_value(bot_name) OVER k AS keeper_bot
      FROM ranked r
    WINDOW k AS (PARTITION BY course_id ORDER BY rank_in_sig <> 1, version_refs DESC, date_created NULLS LAST, bot_name)
)
SELECT course_id, bot_name, sig,
       contents = 1 AS identical,
       CASE
           WHEN bot_name = keeper_bot THEN 'keep'
           WHEN sig = keeper_sig THEN 'merge'
           WHEN rank_in_sig = 1 THEN 'rename'
           ELSE 'merge'
       END AS action,
       -- The copy whose row survives for this content.
       CASE WHEN sig = keeper_sig THEN keeper_bot ELSE first_bot END AS survivor_bot,
       NULL::text AS new_course_id
  FROM keyed;

-- Every course id that rows name (before the renames: a new id must be one no row names).
-- One pass over conversation (the biggest table) for everything the analysis needs of it.
CREATE TEMP TABLE mig_conversation_stats ON COMMIT DROP AS
SELECT course_id, count(*) AS n,
       count(*) FILTER (WHERE run_id IS NULL) AS null_run_id,
       count(*) FILTER (WHERE octet_length(json) > 65536) AS large_json
  FROM conversation GROUP BY course_id;

CREATE TEMP TABLE mig_course_refs ON COMMIT DROP AS
          SELECT 'run' AS table_name, course_id, count(*) AS n FROM run WHERE course_id IS NOT NULL GROUP BY course_id
UNION ALL SELECT 'waiting_element', course_id, count(*) FROM waiting_element WHERE course_id IS NOT NULL GROUP BY course_id
UNION ALL SELECT 'course_element', course_id, count(*) FROM course_element WHERE course_id IS NOT NULL GROUP BY course_id
UNION ALL SELECT 'courseparticipants', course_id, count(*) FROM courseparticipants WHERE course_id IS NOT NULL GROUP BY course_id
UNION ALL SELECT 'conversation', course_id, n FROM mig_conversation_stats WHERE course_id IS NOT NULL;

-- Readable, unique new ids for renamed copies: <course_id>__<bot_name>, numbered on collision.
-- (Not an id that rows name without a course row either, a YAML course of that name:
-- its rows would show under the renamed copy's legacy id.)
DO $$
DECLARE
    r record;
    candidate text;
    n int;
BEGIN
    FOR r IN SELECT course_id, bot_name FROM mig_course_plan WHERE action = 'rename' ORDER BY course_id, bot_name LOOP
        candidate := r.course_id || '__' || r.bot_name;
        n := 1;
        WHILE EXISTS (SELECT 1 FROM course WHERE course_id = candidate)
           OR EXISTS (SELECT 1 FROM mig_course_refs WHERE course_id = candidate)
           OR EXISTS (SELECT 1 FROM mig_course_plan WHERE new_course_id = candidate) LOOP
            n := n + 1;
            candidate := r.course_id || '__' || r.bot_name || '__' || n;
        END LOOP;
        UPDATE mig_course_plan SET new_course_id = candidate
         WHERE course_id = r.course_id AND bot_name = r.bot_name;
    END LOOP;
END $$;
UPDATE mig_course_plan m SET new_course_id = x.new_course_id
  FROM (SELECT p.course_id, p.bot_name,
               CASE WHEN p.sig = k.sig THEN p.course_id ELSE r.new_course_id END AS new_course_id
          FROM mig_course_plan p
          LEFT JOIN mig_course_plan k ON k.course_id = p.course_id AND k.action = 'keep'
          LEFT JOIN mig_course_plan r ON r.course_id = p.course_id AND r.sig = p.sig AND r.action = 'rename'
         WHERE p.action IN ('keep', 'merge')) x
 WHERE m.course_id = x.course_id AND m.bot_name = x.bot_name;

-- Where a row naming (course_id, resolved bot) belongs: the renamed id if that bot's
-- copy was renamed (or merged into a renamed one), else the id itself.
CREATE TEMP TABLE mig_course_map ON COMMIT DROP AS
SELECT course_id, bot_name, new_course_id FROM mig_course_plan WHERE new_course_id <> course_id;
CREATE UNIQUE INDEX ON mig_course_map (course_id, bot_name);

-- Course ids that rows reference but no course row holds (courses living in YAML files).
CREATE TEMP TABLE mig_missing_course ON COMMIT DROP AS
SELECT m.course_id, m.tables, m.refs,
       -- Legacy course rows need a bot_name: the bot that names the course most.
       coalesce(top.bot_name, (SELECT default_bot FROM mig_params), '') AS bot_name
  FROM (SELECT r.course_id, array_agg(DISTINCT r.table_name ORDER BY r.table_name) AS tables, sum(r.n)::int8 AS refs
          FROM mig_course_refs r
         WHERE NOT EXISTS (SELECT 1 FROM course c WHERE c.course_id = r.course_id)
         GROUP BY r.course_id) m
  LEFT JOIN (SELECT DISTINCT ON (course_id) course_id, bot_name FROM mig_course_bot_refs
              ORDER BY course_id, n DESC, bot_name) top ON top.course_id = m.course_id;

-- Rows with a NULL course_id, per table.
CREATE TEMP TABLE mig_null_course ON COMMIT DROP AS
          SELECT 'run' AS table_name, count(*) AS n FROM run WHERE course_id IS NULL
UNION ALL SELECT 'waiting_element', count(*) FROM waiting_element WHERE course_id IS NULL
UNION ALL SELECT 'course_element', count(*) FROM course_element WHERE course_id IS NULL
UNION ALL SELECT 'courseparticipants', count(*) FROM courseparticipants WHERE course_id IS NULL
UNION ALL SELECT 'conversation', coalesce((SELECT n FROM mig_conversation_stats WHERE course_id IS NULL), 0);

-- Unfinished runs beyond the newest one of a chat on a bot (the highest run_id: the order
-- they were written in, which a NULL date_inserted does not hide): they are deactivated.
CREATE TEMP TABLE mig_run_deactivate ON COMMIT DROP AS
SELECT run_id FROM (
    SELECT run_id,
           row_number() OVER (PARTITION BY coalesce(botname, (SELECT default_bot FROM mig_params)), chat_id
                              ORDER BY run_id DESC) AS rn
      FROM run
     WHERE is_ended IS NOT TRUE AND chat_id IS NOT NULL
) x WHERE rn > 1;

CREATE TEMP TABLE mig_run_dup_groups ON COMMIT DROP AS
SELECT coalesce(botname, (SELECT default_bot FROM mig_params)) AS bot_name, chat_id, count(*) AS n
  FROM run WHERE is_ended IS NOT TRUE AND chat_id IS NOT NULL
 GROUP BY 1, 2 HAVING count(*) > 1;

-- Duplicate bans under (bot, chat_id, excluded): all but one. The row kept is one the
-- legacy reads can see (a named bot over a NULL bot name: `botname = $bot` never
-- matches NULL), and among those the oldest; so no banned chat becomes unbanned.
-- kept_id says which row of the group stays.
CREATE TEMP TABLE mig_ban_dups ON COMMIT DROP AS
SELECT bannedparticipant_id, kept_id FROM (
    SELECT bannedparticipant_id,
           first_value(bannedparticipant_id) OVER w AS kept_id,
           row_number() OVER w AS rn
      FROM bannedparticipants
     WHERE chat_id IS NOT NULL AND excluded IS NOT NULL
    WINDOW w AS (PARTITION BY coalesce(botname, (SELECT default_bot FROM mig_params)), chat_id, excluded
                 ORDER BY botname IS NULL, banned_at NULLS LAST, bannedparticipant_id)
) x WHERE rn > 1;

-- Duplicate participants under (course, chat, username): all but one. NULL and ''
-- usernames collide under the key; a legacy read matches '' and never NULL, so a
-- non-NULL username is kept over a NULL one, and among those the oldest row.
-- A NULL course_id is never a duplicate (NULLs are distinct in the unique index).
CREATE TEMP TABLE mig_participant_dups ON COMMIT DROP AS
SELECT courseparticipant_id, kept_id FROM (
    SELECT courseparticipant_id,
           first_value(courseparticipant_id) OVER w AS kept_id,
           row_number() OVER w AS rn
      FROM courseparticipants
     WHERE course_id IS NOT NULL
    WINDOW w AS (PARTITION BY course_id, coalesce(username, '')
                 ORDER BY username IS NULL, courseparticipant_id)
) x WHERE rn > 1;

-- Conversation rows whose run_id names no run (runs deleted long ago).
CREATE TEMP TABLE mig_orphans ON COMMIT DROP AS
SELECT c.conversation_id, c.run_id FROM conversation c
 WHERE c.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM run r WHERE r.run_id = c.run_id);

CREATE TEMP TABLE mig_counts ON COMMIT DROP AS
SELECT 'conversation_null_run_id' AS what, (SELECT coalesce(sum(null_run_id), 0)::int8 FROM mig_conversation_stats) AS n
UNION ALL SELECT 'run_null_is_ended', (SELECT count(*) FROM run WHERE is_ended IS NULL)
UNION ALL SELECT 'waiting_null_is_waiting', (SELECT count(*) FROM waiting_element WHERE is_waiting IS NULL)
UNION ALL SELECT 'conversation_large_json', (SELECT coalesce(sum(large_json), 0)::int8 FROM mig_conversation_stats);

