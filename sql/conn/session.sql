-- Every session of the tool works on the tables themselves. A role whose search_path
-- puts the legacy interface first (`legacy-role`, or a bot and a tool sharing one role)
-- gets this session's search_path without profochat_legacy; nothing else changes.
SELECT set_config('search_path',
                  coalesce(nullif(array_to_string(ARRAY(
                      SELECT trim(x) FROM unnest(string_to_array(current_setting('search_path'), ',')) AS u(x)
                       WHERE trim(both '"' FROM trim(x)) <> 'profochat_legacy'), ', '), ''), '"$user", public'),
                  false)
 WHERE current_setting('search_path') LIKE '%profochat_legacy%'
