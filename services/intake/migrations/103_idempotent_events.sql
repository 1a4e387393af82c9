-- intake: event handlers idempotent by construction. The consumer applies each (stream,
-- sequence) once, but a stream replayed into a reset consumer must change nothing either:
-- timeline notes from parts and settlement are written once per fact, and marking part lines
-- touches the ticket only when a status really changes.

CREATE OR REPLACE FUNCTION mark_lines(p_ticket text, p_lines jsonb, p_status text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    UPDATE tickets SET work = jsonb_set(work, '{requested}', (
        SELECT coalesce(jsonb_agg(CASE WHEN EXISTS (
                   SELECT 1 FROM jsonb_array_elements(p_lines) x
                   WHERE (x->>'line_no')::int = (r->>'line_no')::int)
               THEN jsonb_set(r, '{status}', to_jsonb(p_status)) ELSE r END ORDER BY (r->>'line_no')::int), '[]')
        FROM jsonb_array_elements(coalesce(work->'requested', '[]')) r)), updated_at = now()
    WHERE id = p_ticket
      AND EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(work->'requested', '[]')) r
                  JOIN jsonb_array_elements(p_lines) x ON (x->>'line_no')::int = (r->>'line_no')::int
                  WHERE r->>'status' IS DISTINCT FROM p_status)
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        SELECT * INTO t FROM tickets WHERE id = p_ticket; -- nothing changes: a delivery seen before
    END IF;
    RETURN t;
END $$;

CREATE OR REPLACE FUNCTION on_parts_reserved(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'reserved');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    IF coalesce((e->>'complete')::boolean, false) AND t.state = 'awaiting_parts' THEN
        PERFORM move(t, 'in_repair', 'parts_reserved', '{"subject": "parts", "role": "service"}',
                     NULL, format('%s line(s) reserved at %s', jsonb_array_length(e->'lines'), e->>'site'));
    ELSE
        INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
            SELECT t.id, t.state, t.state, 'parts_reserved', 'parts',
                   format('lines %s reserved at %s', (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l), e->>'site')
            WHERE NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id AND event = 'parts_reserved'
                              AND note = format('lines %s reserved at %s', (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l), e->>'site'));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION on_parts_backordered(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'backordered');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        SELECT t.id, t.state, t.state, 'parts_backordered', 'parts', v_note
        FROM (SELECT format('lines %s backordered at %s; a transfer from the warehouse is on its way',
                            (SELECT string_agg(l->>'line_no', ',') FROM jsonb_array_elements(e->'lines') l),
                            e->>'site') AS v_note) n
        WHERE NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id
                          AND event = 'parts_backordered' AND note = n.v_note);
END $$;

CREATE OR REPLACE FUNCTION on_charged(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        SELECT t.id, t.state, t.state, 'charged', 'settlement',
               format('customer %s, manufacturer %s, company %s (cents)%s',
                      coalesce(e->>'customer_cents', '0'), coalesce(e->>'manufacturer_cents', '0'),
                      coalesce(e->>'company_cents', '0'),
                      CASE WHEN e->>'invoice_no' IS NOT NULL THEN ', invoice ' || (e->>'invoice_no') ELSE '' END)
        FROM tickets t WHERE t.id = e->>'ticket_id'
          AND NOT EXISTS (SELECT 1 FROM ticket_timeline WHERE ticket_id = t.id AND event = 'charged');
END $$;
