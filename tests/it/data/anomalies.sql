-- A small legacy dataset with every anomaly of SPEC §1, for migration tests.
-- Bots: main_bot (the default), second_bot, "бот «кавычки» 'q'" (unicode and quotes),
-- ban_only_bot (only in bans), waiting_only_bot (only in waiting elements),
-- settings_only_bot (only in gen_settings).

INSERT INTO course (course_id, bot_name, creator_id, date_created, yaml) VALUES
  ('intro', 'main_bot', 1, '2023-01-01', 'name: intro'),
  ('shared', 'main_bot', 1, '2023-01-02', 'name: shared'),          -- identical under 3 bots
  ('shared', 'second_bot', 1, '2023-02-02', 'name: shared'),
  ('shared', 'бот «кавычки» ''q''', 1, '2023-03-02', 'name: shared'),
  ('diverged', 'main_bot', 1, '2023-01-03', 'name: diverged v1'),   -- differing under 2 bots
  ('diverged', 'second_bot', 2, '2023-04-03', 'name: diverged v2'),
  ('курс «один»', 'second_bot', 3, NULL, 'name: unicode');

INSERT INTO course_element (course_element_id, element_id, json, element_type, course_id, bot_name) VALUES
  (1, 'e1', '{"text": "hello"}', 'message', 'intro', 'main_bot'),
  (2, 'e2', '{"text": "bye"}', 'message', 'intro', 'main_bot'),
  (3, 's1', '{"q": 1}', 'quiz', 'shared', 'main_bot'),
  (4, 's1', '{"q": 1}', 'quiz', 'shared', 'second_bot'),
  (5, 's1', '{"q": 1}', 'quiz', 'shared', 'бот «кавычки» ''q'''),
  (6, 'd1', '{"v": 1}', 'message', 'diverged', 'main_bot'),
  (7, 'd1', '{"v": 2}', 'message', 'diverged', 'second_bot'),
  (8, 'y1', '{"yaml": true}', 'message', 'yaml_course', NULL),      -- missing course, NULL bot
  (9, 'n1', '{}', 'message', NULL, 'main_bot');                      -- NULL course_id
SELECT setval('course_element_id_seq', 9);

INSERT INTO run (run_id, chat_id, username, botname, course_id, date_inserted, utm_source, utm_campaign, is_ended) VALUES
  (1, 100, 'alice', 'main_bot', 'intro', '2024-01-01 10:00', 'ads', 'spring', true),
  (2, 100, 'alice', 'main_bot', 'intro', '2024-01-02 10:00', NULL, NULL, NULL),     -- unfinished
  (3, 100, 'alice', NULL, 'intro', '2024-01-03 10:00', NULL, NULL, false),          -- unfinished, NULL bot (= main_bot)
  (4, 101, 'bob', 'second_bot', 'diverged', '2024-01-04 10:00', NULL, NULL, NULL),
  (5, 101, 'bob', 'second_bot', 'shared', '2024-01-05 10:00', NULL, NULL, true),
  (6, 102, 'o''hara', 'бот «кавычки» ''q''', 'shared', NULL, NULL, NULL, NULL),
  (7, 103, 'дима', 'main_bot', 'yaml_course', '2024-01-07 10:00', NULL, NULL, false), -- missing course
  (8, 104, NULL, 'main_bot', NULL, '2024-01-08 10:00', NULL, NULL, NULL),            -- NULL course
  (9, 105, 'eve', 'main_bot', 'diverged', '2024-01-09 10:00', NULL, NULL, NULL),
  (10, 101, 'bob', 'second_bot', 'diverged', '2024-01-10 10:00', NULL, NULL, false); -- second unfinished of chat 101 on second_bot
SELECT setval('run_run_id_seq1', 10);

INSERT INTO conversation (conversation_id, chat_id, username, course_id, element_id, element_type, role, json, report, score, maxscore, date_inserted, run_id) VALUES
  (1, 100, 'alice', 'intro', 'e1', 'message', 'assistant', '{"text": "hello"}', NULL, NULL, NULL, '2024-01-01 10:00', 1),
  (2, 100, 'alice', 'intro', 'e2', 'message', 'user', '{"text": "hi"}', 'ok', 1.5, 2, '2024-01-01 10:01', 1),
  (3, 101, 'bob', 'diverged', 'd1', 'message', 'assistant', '{"v": 2}', NULL, NULL, NULL, '2024-01-04 10:00', 4),
  (4, 101, 'bob', 'diverged', 'd1', 'message', 'user', repeat('{"big": "' || repeat('x', 70000) || '"}', 1), NULL, NULL, NULL, NULL, 10),
  (5, 999, 'ghost', 'intro', 'e1', 'message', 'assistant', '{}', NULL, NULL, NULL, '2023-06-01', 5000),  -- run deleted long ago
  (6, 998, 'ghost2', 'intro', 'e1', 'message', 'user', '{}', NULL, NULL, NULL, '2023-06-01', NULL),      -- NULL run_id
  (7, 105, 'eve', 'diverged', 'd1', 'message', 'assistant', '{"v": 1}', NULL, 0.25, 1, '2024-01-09 10:00', 9),
  (8, 106, 'zoe', 'conv_only_course', 'c1', 'message', 'user', 'tab	and\newline', NULL, NULL, NULL, NULL, NULL);
SELECT setval('conversation_conversation_id_seq', 8);

INSERT INTO waiting_element (waiting_element_id, chat_id, waiting_till_date, is_waiting, element_id, course_id, botname) VALUES
  (1, 100, '2024-02-01', true, 'e2', 'intro', 'main_bot'),
  (2, 101, '2024-02-01', NULL, 'd1', 'diverged', 'second_bot'),
  (3, 107, NULL, false, 'w1', 'waiting_course', 'waiting_only_bot'),   -- missing course, bot only here
  (4, 100, '2024-02-02', true, 'e1', 'intro', NULL);
SELECT setval('waiting_element_id_seq', 4);

INSERT INTO courseparticipants (courseparticipant_id, course_id, username) VALUES
  (1, 'intro', 'alice'), (2, 'intro', 'alice'),          -- duplicate
  (3, 'intro', NULL), (4, 'intro', NULL),                 -- duplicate (NULL username)
  (5, NULL, 'nobody'), (6, NULL, 'nobody'),               -- NULL course: never duplicates
  (7, 'participants_course', 'pat');                      -- missing course
SELECT setval('courseparticipant_id_seq', 7);

INSERT INTO bannedparticipants (bannedparticipant_id, botname, chat_id, banned_at, ban_reason, excluded) VALUES
  (1, 'main_bot', 500, '2024-01-01', 'spam', 0),
  (2, 'main_bot', 500, '2024-01-02', 'spam again', 0),    -- duplicate
  (3, NULL, 500, NULL, 'old spam', 0),                    -- NULL bot = main_bot: duplicate too
  (4, 'ban_only_bot', 501, NULL, 'abuse', 1),
  (5, 'second_bot', 502, '2024-01-01', NULL, NULL);
SELECT setval('bannedparticipant_id_seq', 5);

INSERT INTO gen_settings (id, bot_name, s_key, s_value) VALUES
  (1, NULL, 'global_key', 'v'),
  (2, 'main_bot', 'welcome', 'Привет'),
  (3, 'settings_only_bot', 'k', 'v');
