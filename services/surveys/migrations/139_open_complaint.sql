-- 139: opening a complaint for a ticket, one definition for two rules that earlier migrations
-- each wrote alone (110: the complaint carries the ticket's customer without retyping; 131: a
-- ticket the caller may not see answers 404, as if it did not exist). Also: the customer of a
-- ticket is copied only into a complaint of that ticket's own centre, so a desk cannot pull
-- another centre's customer into a complaint of its own.

CREATE OR REPLACE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    v_ticket text := nullif(a->>'ticket_id', '');
    c complaints;
    v_t_center text;
    v_t_region text;
    v_t_name text;
    v_t_phone text;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF v_ticket IS NOT NULL THEN
        -- The ticket's customer and centre, as intake told us (TicketOpened, else TicketClosed).
        SELECT tc.center, tc.customer_name, tc.customer_phone
            INTO v_t_center, v_t_name, v_t_phone
            FROM ticket_customers tc WHERE tc.ticket_id = v_ticket;
        IF NOT FOUND THEN
            SELECT cb.center, cb.customer_name, cb.customer_phone
                INTO v_t_center, v_t_name, v_t_phone
                FROM callbacks cb WHERE cb.ticket_id = v_ticket;
        END IF;
        IF v_t_center IS NOT NULL THEN
            SELECT region INTO v_t_region FROM centers WHERE code = v_t_center;
            IF v_role NOT IN ('admin', 'service')
               AND NOT may_see(p_principal, v_t_center, v_t_region) THEN
                PERFORM fail(404, 'not_found', format('ticket %s not found', v_ticket));
            END IF;
            IF v_center IS NULL THEN
                v_center := v_t_center;
            ELSIF v_center <> v_t_center THEN
                PERFORM fail(422, 'ticket_elsewhere',
                             format('ticket %s belongs to centre %s, not %s', v_ticket, v_t_center,
                                    v_center));
            END IF;
        END IF;
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('centre %s does not exist', v_center));
        END IF;
    END IF;
    IF v_role NOT IN ('admin', 'service') AND NOT may_see(p_principal, v_center, v_region) THEN
        PERFORM fail(403, 'forbidden',
                     format('you may not open complaints for centre %s', coalesce(v_center, '(none)')));
    END IF;
    c := complaint_create(p_req, p_principal, a->>'channel', v_ticket,
                          v_center, v_region, a->>'cause', a->>'description',
                          coalesce(nullif(a->>'customer_name', ''), v_t_name),
                          coalesce(nullif(a->>'customer_phone', ''), v_t_phone),
                          'manual', NULL);
    RETURN reply_for(p_principal, complaint_reply(c.id, 201));
END $$;
