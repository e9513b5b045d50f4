-- Phase 2: bots, courses (merged, renamed, created from references) and deployments.
-- Expects the analysis tables (analysis.sql) and pg_temp.mig_params
-- (default_bot, migration_id). Every legacy row or value changed here is archived first.
-- reads: mig_bots, mig_course_bot_refs, mig_course_map, mig_course_plan, mig_missing_course, mig_params

-- Bots: one per distinct bot name, plus the default bot. Tokens are placeholders
-- (set afterwards from BOT_API_TOKEN or with `bot set-token`).
INSERT INTO bot (account_id, bot_name, bot_token, display_name)
SELECT 1, n.bot_name,
       'profochat-saas-placeholder-' || md5(random()::text || clock_timestamp()::text || n.bot_name),
       n.bot_name
  FROM (SELECT bot_name FROM mig_bots
        UNION SELECT default_bot FROM mig_params WHERE default_bot IS NOT NULL) n
 WHERE NOT EXISTS (SELECT 1 FROM bot b WHERE b.account_id = 1 AND b.bot_name = n.bot_name)
 ORDER BY n.bot_name;
-- Bots made by hand may lack a token or a display name.
UPDATE bot SET bot_token = 'profochat-saas-placeholder-' || md5(random()::text || clock_timestamp()::text || bot_name)
 WHERE bot_token IS NULL OR bot_token = '';
UPDATE bot SET display_name = bot_name WHERE display_name IS NULL;
-- The legacy runtime writes rows without a bot name: the compatibility triggers read this.
UPDATE account SET settings = coalesce(settings, '{}'::jsonb) || jsonb_build_object('default_bot', p.default_bot)
  FROM mig_params p WHERE account.account_id = 1 AND p.default_bot IS NOT NULL;

-- Course copies that merge into another copy: the row and its elements go to the archive,
-- and to the legacy interface's copies (the legacy bot still sees its own copy).
INSERT INTO profochat_saas.legacy_course_copy (course_id, bot_name, creator_id, date_created, yaml)
SELECT c.course_id, c.bot_name, c.creator_id, c.date_created, c.yaml
  FROM course c JOIN mig_course_plan m ON m.action = 'merge' AND c.course_id = m.course_id AND c.bot_name = m.bot_name
ON CONFLICT DO NOTHING;
INSERT INTO profochat_saas.legacy_element_copy (course_element_id, element_id, json, element_type, course_id, bot_name)
SELECT e.course_element_id, e.element_id, e.json, e.element_type, e.course_id, e.bot_name
  FROM course_element e JOIN mig_course_plan m
    ON m.action = 'merge' AND e.course_id = m.course_id
   AND coalesce(e.bot_name, (SELECT default_bot FROM mig_params)) = m.bot_name
ON CONFLICT DO NOTHING;

WITH gone AS (
    DELETE FROM course c USING mig_course_plan m
     WHERE m.action = 'merge' AND c.course_id = m.course_id AND c.bot_name = m.bot_name
    RETURNING c.course_id, c.bot_name, c.creator_id, c.date_created, c.yaml, m.survivor_bot, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'course', 'deleted',
       jsonb_build_object('course_id', course_id, 'bot_name', bot_name),
       jsonb_build_object('course_id', course_id, 'bot_name', bot_name, 'creator_id', creator_id,
                          'date_created', date_created, 'yaml', yaml),
       format('identical copy of course %s merged into %s (copy of bot %s)', course_id, new_course_id, survivor_bot)
  FROM gone;

WITH gone AS (
    DELETE FROM course_element e USING mig_course_plan m
     WHERE m.action = 'merge' AND e.course_id = m.course_id
       AND coalesce(e.bot_name, (SELECT default_bot FROM mig_params)) = m.bot_name
    RETURNING e.course_element_id, e.element_id, e.json, e.element_type, e.course_id, e.bot_name, m.new_course_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'course_element', 'deleted',
       jsonb_build_object('course_element_id', course_element_id),
       jsonb_build_object('course_element_id', course_element_id, 'element_id', element_id, 'json', json,
                          'element_type', element_type, 'course_id', course_id, 'bot_name', bot_name),
       format('element of an identical copy of course %s merged into %s', course_id, new_course_id)
  FROM gone;

-- Differing copies get their new id; the title keeps the old one.
WITH renamed AS (
    UPDATE course c
       SET course_id = m.new_course_id,
           title = coalesce(c.title, m.course_id),
           metadata = coalesce(c.metadata, '{}'::jsonb)
                      || jsonb_build_object('legacy_course_id', m.course_id, 'legacy_bot_name', m.bot_name,
                                            'renamed_because', 'the same course_id exists under several bots with different content')
      FROM mig_course_plan m
     WHERE m.action = 'rename' AND c.course_id = m.course_id AND c.bot_name = m.bot_name
    RETURNING c.course_id AS new_id, c.bot_name, m.course_id AS old_id
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'course', 'updated',
       jsonb_build_object('course_id', new_id, 'bot_name', bot_name),
       jsonb_build_object('course_id', old_id),
       format('course %s of bot %s differs from the copy that keeps the id: renamed to %s', old_id, bot_name, new_id)
  FROM renamed;

-- The legacy interface shows every bot's copy under its legacy id.
INSERT INTO profochat_saas.legacy_course_map (legacy_course_id, bot_name, course_id)
SELECT course_id, bot_name, new_course_id FROM mig_course_map
ON CONFLICT (legacy_course_id, bot_name) DO UPDATE SET course_id = EXCLUDED.course_id;
INSERT INTO profochat_saas.legacy_course_name (course_id, legacy_course_id)
SELECT DISTINCT new_course_id, course_id FROM mig_course_map
ON CONFLICT (course_id) DO UPDATE SET legacy_course_id = EXCLUDED.legacy_course_id;

-- Merged survivors say which bots' copies they absorbed.
UPDATE course c SET metadata = coalesce(c.metadata, '{}'::jsonb) || jsonb_build_object('merged_copies_of_bots', x.bots)
  FROM (SELECT new_course_id, survivor_bot, jsonb_agg(bot_name ORDER BY bot_name) AS bots
          FROM mig_course_plan WHERE action = 'merge' GROUP BY 1, 2) x
 WHERE c.course_id = x.new_course_id AND c.bot_name = x.survivor_bot;

-- Elements of renamed copies (and of copies merged into them) follow their course.
SELECT count(*) FROM pg_temp.follow_renamed_copies('course_element', 'course_element_id', 'bot_name', 'mig_course_map', 'mig_params');

-- Courses that rows name but no course row holds (they lived in YAML files). The
-- legacy bot never wrote them: the legacy interface does not show them.
INSERT INTO profochat_saas.legacy_hidden_course (course_id, reason)
SELECT course_id, 'references' FROM mig_missing_course
ON CONFLICT DO NOTHING;
WITH made AS (
    INSERT INTO course (course_id, bot_name, account_id, title, metadata, date_created)
    SELECT course_id, bot_name, 1, course_id,
           jsonb_build_object('created_from', 'references', 'referenced_by', to_jsonb(tables), 'references', refs),
           NULL
      FROM mig_missing_course
    RETURNING course_id, bot_name
)
INSERT INTO profochat_saas.archive (migration_id, table_name, action, key, row, reason)
SELECT (SELECT migration_id FROM mig_params), 'course', 'inserted',
       jsonb_build_object('course_id', course_id, 'bot_name', bot_name), NULL,
       'created because rows reference this course_id and no course row held it'
  FROM made;

UPDATE course SET title = course_id WHERE title IS NULL;

-- Deployments: one per distinct (course, bot) pair seen anywhere, environment prod.
INSERT INTO course_deployment (course_id, account_id, bot_id, environment)
SELECT DISTINCT pairs.course_id, 1, b.bot_id, 'prod'
  FROM (
            -- every course row's own bot
            SELECT c.course_id, c.bot_name FROM course c WHERE c.account_id = 1
      UNION -- bots whose identical copy was merged into another course row
            SELECT new_course_id, bot_name FROM mig_course_plan WHERE action = 'merge'
      UNION -- runs, waiting elements and elements, after renames
            SELECT coalesce(m.new_course_id, r.course_id), r.bot_name
              FROM mig_course_bot_refs r LEFT JOIN mig_course_map m USING (course_id, bot_name)
       ) pairs
  JOIN bot b ON b.account_id = 1 AND b.bot_name = pairs.bot_name
 WHERE EXISTS (SELECT 1 FROM course c WHERE c.course_id = pairs.course_id AND c.account_id = 1)
   AND NOT EXISTS (SELECT 1 FROM course_deployment d
                    WHERE d.course_id = pairs.course_id AND d.account_id = 1 AND d.bot_id = b.bot_id
                      AND d.environment = 'prod');
