-- intake: a diagnosis that names parts requests them in the same command (issue 14, point 3).
--
-- Before, Diagnose.parts was stored in work.parts and nothing else happened: the desk had to
-- send the same lines again to /parts-requests. Now the lines are numbered, kept in
-- work.requested and sent to the parts service (intake.PartsRequested) by the diagnosis itself:
--   covered work: adjudicated -> in_repair -> awaiting_parts (until every line is reserved);
--   paid work:    adjudicated -> estimate_pending, the lines already requested (stock is held
--                 while the customer decides). Consent then goes to in_repair when every line
--                 is reserved, else awaiting_parts; a declined estimate releases the lines
--                 (TicketCancelled carries them to parts) besides closing the ticket.
-- parts.PartsReserved is unchanged: a ticket still estimate_pending only has its lines marked;
-- one that went to awaiting_parts at consent moves on when parts says every line is reserved.

-- Number p_parts after the ticket's requested lines, add them to work.requested and publish
-- PartsRequested. Returns the ticket with the new lines (its state unchanged).
CREATE FUNCTION request_lines(t tickets, p_parts jsonb, p_req text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    v_next int := coalesce(jsonb_array_length(t.work->'requested'), 0);
    v_lines jsonb;
    r tickets;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('line_no', v_next + n, 'sku', l->>'sku',
                                        'qty', (l->>'qty')::int, 'status', 'requested') ORDER BY n)
        INTO v_lines FROM jsonb_array_elements(p_parts) WITH ORDINALITY AS x(l, n);
    IF v_lines IS NULL THEN
        RETURN t;
    END IF;
    UPDATE tickets SET work = work || jsonb_build_object('requested', coalesce(work->'requested', '[]') || v_lines),
                       updated_at = now()
        WHERE id = t.id RETURNING * INTO r;
    PERFORM emit('intake', 'intake.PartsRequested', jsonb_build_object(
        'ticket_id', r.id, 'center', r.center, 'region', r.region, 'brand', r.device->>'brand',
        'manufacturer', r.manufacturer,
        'lines', (SELECT jsonb_agg(l - 'status') FROM jsonb_array_elements(v_lines) l),
        'warranty', NOT coalesce((r.work->>'paid')::boolean, true)), p_req);
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION cmd_diagnose(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_paid boolean;
    v_work jsonb;
    v_parts jsonb := coalesce(a->'parts', '[]');
BEGIN
    IF t.state <> 'adjudicated' THEN
        PERFORM illegal(t, 'diagnosis', 'adjudicated');
    END IF;
    IF remedy_granted(t.decision) IS NOT NULL THEN
        PERFORM fail(409, 'remedy_not_repair',
                     format('the decision grants a %s; hand the ticket back instead', remedy_granted(t.decision)));
    END IF;
    v_paid := repair_is_paid(t.decision);
    IF v_paid AND a->'estimate_cents' IS NULL THEN
        PERFORM fail(400, 'estimate_required',
                     'this repair is paid by the customer: give estimate_cents before work starts');
    END IF;
    v_work := t.work || jsonb_strip_nulls(jsonb_build_object(
        'fault_code', coalesce(a->>'fault_code', t.fault->>'code'), 'labour_code', a->>'labour_code',
        'parts', v_parts, 'estimate_cents', a->'estimate_cents',
        'paid', v_paid, 'promised_date', a->>'promised_date'));
    t := move(t, CASE WHEN v_paid THEN 'estimate_pending' ELSE 'in_repair' END, 'diagnosed',
              p_principal, p_req, a->>'note', v_work);
    PERFORM emit('intake', 'intake.TicketDiagnosed', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
        'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'fault_code', v_work->>'fault_code', 'labour_code', v_work->>'labour_code',
        'parts', v_work->'parts', 'estimate_cents', v_work->'estimate_cents', 'paid', v_paid), p_req);
    IF jsonb_array_length(v_parts) > 0 THEN
        -- The parts the diagnosis names are requested now: one step for the desk.
        t := request_lines(t, v_parts, p_req);
        IF t.state = 'in_repair' THEN
            t := move(t, 'awaiting_parts', 'parts_requested', p_principal, p_req,
                      'requested with the diagnosis');
        ELSE
            INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note, request_id)
                VALUES (t.id, t.state, t.state, 'parts_requested',
                        coalesce(p_principal->>'subject', 'unknown'),
                        'requested with the diagnosis (held while the customer decides)', p_req);
        END IF;
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_consent(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_accept boolean := coalesce((a->>'accept')::boolean, false);
    v_waiting boolean;
    v_to text;
BEGIN
    IF t.state <> 'estimate_pending' THEN
        PERFORM illegal(t, 'consent', 'estimate_pending');
    END IF;
    -- Lines requested with the diagnosis that the parts service has not reserved yet.
    v_waiting := EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) r
                         WHERE r->>'status' IN ('requested', 'backordered'));
    v_to := CASE WHEN NOT v_accept THEN 'declined' WHEN v_waiting THEN 'awaiting_parts' ELSE 'in_repair' END;
    t := move(t, v_to,
              CASE WHEN v_accept THEN 'estimate_accepted' ELSE 'estimate_declined' END,
              p_principal, p_req, a->>'note',
              t.work || jsonb_build_object('consent', v_accept,
                                           'outcome', CASE WHEN v_accept THEN NULL ELSE 'declined' END));
    IF NOT v_accept THEN
        IF jsonb_array_length(coalesce(t.work->'requested', '[]')) > 0 THEN
            PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
                'ticket_id', t.id, 'center', t.center, 'region', t.region,
                'reason', 'estimate declined',
                'lines', (SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r)),
                p_req);
        END IF;
        PERFORM closed_event(t, 'declined', p_req);
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;
