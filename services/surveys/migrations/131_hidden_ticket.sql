-- A refusal does not say where a hidden ticket lives. A complaint opened for a ticket_id without
-- a centre takes the ticket's centre; when that centre is out of the caller's scope the answer
-- used to be 403 "you may not open complaints for centre GZ01" — which told a region manager of
-- the east where another region's ticket was. Now it is 404, as if the ticket did not exist
-- (which is what the caller may know). A centre the caller names itself is still a 403.
CREATE OR REPLACE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    v_from_ticket boolean := false;
    c complaints;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF v_center IS NULL AND a->>'ticket_id' IS NOT NULL THEN
        SELECT center INTO v_center FROM callbacks WHERE ticket_id = a->>'ticket_id';
        v_from_ticket := v_center IS NOT NULL;
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('centre %s does not exist', v_center));
        END IF;
    END IF;
    IF v_role NOT IN ('admin', 'service') AND NOT may_see(p_principal, v_center, v_region) THEN
        IF v_from_ticket THEN
            PERFORM fail(404, 'not_found', format('ticket %s not found', a->>'ticket_id'));
        END IF;
        PERFORM fail(403, 'forbidden',
                     format('you may not open complaints for centre %s', coalesce(v_center, '(none)')));
    END IF;
    c := complaint_create(p_req, p_principal, a->>'channel', nullif(a->>'ticket_id', ''),
                          v_center, v_region, a->>'cause', a->>'description',
                          nullif(a->>'customer_name', ''), nullif(a->>'customer_phone', ''),
                          'manual', NULL);
    RETURN reply_for(p_principal, complaint_reply(c.id, 201));
END $$;
