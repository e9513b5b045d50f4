-- The legacy bot ends a delay (SPEC §1): $1 waiting_element_id.
UPDATE waiting_element SET is_waiting = FALSE WHERE waiting_element_id = $1
