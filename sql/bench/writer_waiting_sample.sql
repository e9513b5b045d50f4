-- `bench --writer`: waiting elements the writer's "delay done" statements may end
-- before it has made its own (the newest $1).
SELECT waiting_element_id FROM waiting_element ORDER BY waiting_element_id DESC LIMIT $1
