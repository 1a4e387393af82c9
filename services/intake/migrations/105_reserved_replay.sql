-- intake: PartsReserved delivered again must not add a timeline row. When the first delivery
-- completed the ticket's parts, move() wrote the row with its own note ("N line(s) reserved at
-- SITE"); a later delivery finds the ticket past awaiting_parts and took the other branch, whose
-- guard looked only for its own note ("lines 1,2 reserved at SITE"), so a replayed stream added
-- one row per ticket (found by the fault suite's replay scenario). The guard now recognises
-- both notes.
CREATE OR REPLACE FUNCTION on_parts_reserved(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'reserved');
    v_lines text := (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l);
    v_noted text := format('lines %s reserved at %s', v_lines, e->>'site');
    v_moved text := format('%s line(s) reserved at %s', jsonb_array_length(e->'lines'), e->>'site');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    IF coalesce((e->>'complete')::boolean, false) AND t.state = 'awaiting_parts' THEN
        PERFORM move(t, 'in_repair', 'parts_reserved', '{"subject": "parts", "role": "service"}',
                     NULL, v_moved);
    ELSIF NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id
                      AND event = 'parts_reserved' AND note IN (v_noted, v_moved)) THEN
        INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
            VALUES (t.id, t.state, t.state, 'parts_reserved', 'parts', v_noted);
    END IF;
END $$;
