-- intake: the ticket lifecycle after adjudication.
--
--   received -> adjudicated | awaiting_review (warranty decides)
--   adjudicated -> estimate_pending (paid work) | in_repair (covered work)      /diagnosis
--   estimate_pending -> in_repair (consent) | declined (final)                 /consent
--   in_repair | awaiting_parts -> awaiting_parts                               /parts-requests
--   awaiting_parts -> in_repair (parts service reserved every line)
--   in_repair -> ready                                                        /repair-complete
--   ready -> closed; adjudicated (refund/exchange granted) -> refunded | exchanged  /handback
--   received | adjudicated | awaiting_review | estimate_pending -> cancelled   /cancel

-- The ticket for a command, locked; 404 when it does not exist or is out of the caller's scope,
-- 403 when the caller's role may not change tickets.
CREATE FUNCTION ticket_for_update(p_principal jsonb, p_id text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, t.center, t.region) THEN
        PERFORM fail(404, 'not_found', format('ticket %s not found', p_id));
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'region', 'center', 'service') THEN
        PERFORM fail(403, 'forbidden', 'your role may not change tickets');
    END IF;
    RETURN t;
END $$;

CREATE FUNCTION illegal(t tickets, p_action text, p_allowed text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fail(409, 'illegal_transition',
                 format('ticket %s is %s; %s needs it to be %s', t.id, t.state, p_action, p_allowed));
END $$;

-- Move t to p_to (guarded by its current state) and write the timeline and audit rows.
CREATE FUNCTION move(t tickets, p_to text, p_event text, p_principal jsonb, p_req text,
                     p_note text, p_work jsonb DEFAULT NULL) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    r tickets;
BEGIN
    UPDATE tickets SET state = p_to, updated_at = now(), work = coalesce(p_work, work),
                       closed_at = CASE WHEN p_to IN ('closed', 'refunded', 'exchanged', 'declined',
                                                      'cancelled') THEN now() ELSE closed_at END
        WHERE id = t.id AND state = t.state
        RETURNING * INTO r;
    IF NOT FOUND THEN
        PERFORM fail(409, 'illegal_transition', format('ticket %s changed meanwhile', t.id));
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note, request_id)
        VALUES (t.id, t.state, p_to, p_event, coalesce(p_principal->>'subject', 'unknown'),
                nullif(p_note, ''), p_req);
    PERFORM audit_write(p_principal, p_req, p_event, 'ticket', t.id,
                        jsonb_build_object('from', t.state, 'to', p_to));
    RETURN r;
END $$;

-- Does the customer pay for a repair under this decision?
CREATE FUNCTION repair_is_paid(d jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN d IS NULL THEN true
        WHEN d->>'status' IN ('not_covered', 'exempt') THEN true
        WHEN d->>'remedy' = 'repair' THEN NOT coalesce((d->>'free')::boolean, false)
        ELSE NOT coalesce(d->'entitled' ? 'repair', false)
    END
$$;

CREATE FUNCTION remedy_granted(d jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d->>'status' IN ('granted', 'granted_with_depreciation')
                 AND d->>'remedy' IN ('refund', 'exchange') THEN d->>'remedy' END
$$;

CREATE FUNCTION payer_of(t tickets) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN coalesce((t.work->>'paid')::boolean, repair_is_paid(t.decision))
                THEN 'customer' ELSE 'manufacturer' END
$$;

CREATE FUNCTION cmd_diagnose(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_paid boolean;
    v_work jsonb;
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
        'parts', coalesce(a->'parts', '[]'), 'estimate_cents', a->'estimate_cents',
        'paid', v_paid, 'promised_date', a->>'promised_date'));
    t := move(t, CASE WHEN v_paid THEN 'estimate_pending' ELSE 'in_repair' END, 'diagnosed',
              p_principal, p_req, a->>'note', v_work);
    PERFORM emit('intake', 'intake.TicketDiagnosed', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
        'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'fault_code', v_work->>'fault_code', 'labour_code', v_work->>'labour_code',
        'parts', v_work->'parts', 'estimate_cents', v_work->'estimate_cents', 'paid', v_paid), p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION closed_event(t tickets, p_outcome text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('intake', 'intake.TicketClosed', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'outcome', p_outcome,
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone),
        'category', t.category, 'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'closed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'closed_date', (now() AT TIME ZONE 'Asia/Shanghai')::date::text,
        'turnaround_hours', ceil(extract(epoch FROM now() - t.opened_at) / 3600)::int,
        'repeat_repair', t.repeat_repair,
        'refund_cents', CASE WHEN p_outcome = 'refunded'
                             THEN coalesce((t.decision->>'refund_cents')::bigint, (t.purchase->>'price_cents')::bigint) END,
        'price_cents', (t.purchase->>'price_cents')::bigint,
        'payer', CASE WHEN p_outcome = 'repaired' THEN payer_of(t) WHEN p_outcome IN ('refunded', 'exchanged') THEN 'seller' END),
        p_req);
END $$;

CREATE FUNCTION cmd_consent(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_accept boolean := coalesce((a->>'accept')::boolean, false);
BEGIN
    IF t.state <> 'estimate_pending' THEN
        PERFORM illegal(t, 'consent', 'estimate_pending');
    END IF;
    t := move(t, CASE WHEN v_accept THEN 'in_repair' ELSE 'declined' END,
              CASE WHEN v_accept THEN 'estimate_accepted' ELSE 'estimate_declined' END,
              p_principal, p_req, a->>'note',
              t.work || jsonb_build_object('consent', v_accept,
                                           'outcome', CASE WHEN v_accept THEN NULL ELSE 'declined' END));
    IF NOT v_accept THEN
        PERFORM closed_event(t, 'declined', p_req);
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION cmd_request_parts(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_next int;
    v_lines jsonb;
BEGIN
    IF t.state NOT IN ('in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'a parts request', 'in_repair or awaiting_parts');
    END IF;
    v_next := coalesce(jsonb_array_length(t.work->'requested'), 0);
    SELECT jsonb_agg(jsonb_build_object('line_no', v_next + n, 'sku', l->>'sku',
                                        'qty', (l->>'qty')::int, 'status', 'requested') ORDER BY n)
        INTO v_lines FROM jsonb_array_elements(a->'parts') WITH ORDINALITY AS x(l, n);
    t := move(t, 'awaiting_parts', 'parts_requested', p_principal, p_req, a->>'note',
              t.work || jsonb_build_object('requested', coalesce(t.work->'requested', '[]') || v_lines));
    PERFORM emit('intake', 'intake.PartsRequested', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'brand', t.device->>'brand',
        'manufacturer', t.manufacturer,
        'lines', (SELECT jsonb_agg(l - 'status') FROM jsonb_array_elements(v_lines) l),
        'warranty', NOT coalesce((t.work->>'paid')::boolean, true)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- Mark part lines of a ticket with a new status.
CREATE FUNCTION mark_lines(p_ticket text, p_lines jsonb, p_status text) RETURNS tickets
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
    RETURNING * INTO t;
    RETURN t;
END $$;

-- parts.PartsReserved: when every requested line is reserved, the repair goes on.
CREATE FUNCTION on_parts_reserved(e jsonb) RETURNS void
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
            VALUES (t.id, t.state, t.state, 'parts_reserved', 'parts',
                    format('%s line(s) reserved at %s', jsonb_array_length(e->'lines'), e->>'site'));
    END IF;
END $$;

CREATE FUNCTION on_parts_backordered(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := mark_lines(e->>'ticket_id', coalesce(e->'lines', '[]'), 'backordered');
BEGIN
    IF t.id IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        VALUES (t.id, t.state, t.state, 'parts_backordered', 'parts',
                format('%s line(s) backordered at %s; a transfer from the warehouse is on its way',
                       jsonb_array_length(e->'lines'), e->>'site'));
END $$;

CREATE FUNCTION on_charged(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
        SELECT t.id, t.state, t.state, 'charged', 'settlement',
               format('customer %s, manufacturer %s, company %s (cents)%s',
                      coalesce(e->>'customer_cents', '0'), coalesce(e->>'manufacturer_cents', '0'),
                      coalesce(e->>'company_cents', '0'),
                      CASE WHEN e->>'invoice_no' IS NOT NULL THEN ', invoice ' || (e->>'invoice_no') ELSE '' END)
        FROM tickets t WHERE t.id = e->>'ticket_id';
END $$;

CREATE FUNCTION cmd_complete_repair(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_used jsonb;
    v_work jsonb;
    v_today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
BEGIN
    IF t.state <> 'in_repair' THEN
        PERFORM illegal(t, 'repair completion', 'in_repair');
    END IF;
    -- Match each used part to a reserved line of the same SKU (first come, first matched).
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'line_no', (SELECT (r->>'line_no')::int
                           FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) WITH ORDINALITY AS q(r, k)
                           WHERE r->>'sku' = u->>'sku' AND r->>'status' = 'reserved'
                           ORDER BY k LIMIT 1 OFFSET (
                               SELECT count(*) FROM jsonb_array_elements(a->'parts_used') WITH ORDINALITY AS p(u2, m)
                               WHERE m < n AND u2->>'sku' = u->>'sku')),
               'sku', u->>'sku', 'qty', (u->>'qty')::int)) ORDER BY n), '[]')
        INTO v_used FROM jsonb_array_elements(coalesce(a->'parts_used', '[]')) WITH ORDINALITY AS x(u, n);
    v_work := t.work || jsonb_strip_nulls(jsonb_build_object(
        'parts_used', v_used, 'labour_code', coalesce(a->>'labour_code', t.work->>'labour_code'),
        'labour_minutes', a->'labour_minutes', 'cause', coalesce(a->>'cause', 'other')));
    t := move(t, 'ready', 'repair_completed', p_principal, p_req, a->>'note', v_work);
    IF t.device_key IS NOT NULL THEN
        INSERT INTO device_repairs(ticket_id, device_key, dropped_off, returned, hours, problem,
                                   listed, serious_safety)
        VALUES (t.id, t.device_key, (t.opened_at AT TIME ZONE 'Asia/Shanghai')::date, v_today,
                greatest(ceil(extract(epoch FROM now() - t.opened_at) / 3600), 1)::int,
                coalesce(v_work->>'fault_code', t.fault->>'code'),
                coalesce((t.fault->>'listed')::boolean, false),
                coalesce(t.fault->>'car' IN ('steering_failure', 'brake_failure', 'body_crack',
                                             'fuel_leak', 'traction_battery_fire', 'serious_safety'), false))
        ON CONFLICT (ticket_id) DO NOTHING;
    END IF;
    PERFORM emit('intake', 'intake.RepairCompleted', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
        'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'fault_code', v_work->>'fault_code', 'labour_code', v_work->>'labour_code',
        'labour_minutes', v_work->'labour_minutes', 'parts_used', v_used,
        'payer', payer_of(t), 'warranty_status', t.decision->>'status',
        'remedy', t.decision->>'remedy', 'rules', coalesce(t.decision->'rules', '[]'),
        'cause', v_work->>'cause',
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'completed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'repeat_repair', t.repeat_repair, 'estimate_cents', v_work->'estimate_cents',
        'claim_date', t.claim_date::text), p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION cmd_handback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_remedy text := remedy_granted(t.decision);
    v_to text;
    v_outcome text;
BEGIN
    IF t.state = 'ready' THEN
        v_to := 'closed';
        v_outcome := 'repaired';
    ELSIF t.state = 'adjudicated' AND v_remedy IS NOT NULL THEN
        v_to := CASE v_remedy WHEN 'refund' THEN 'refunded' ELSE 'exchanged' END;
        v_outcome := v_to;
    ELSE
        PERFORM illegal(t, 'hand-back', 'ready (or adjudicated with a granted refund or exchange)');
    END IF;
    t := move(t, v_to, 'handed_back', p_principal, p_req, a->>'note',
              t.work || jsonb_build_object('outcome', v_outcome));
    PERFORM closed_event(t, v_outcome, p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION cmd_cancel_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending') THEN
        PERFORM illegal(t, 'cancellation', 'received, adjudicated, awaiting_review or estimate_pending');
    END IF;
    t := move(t, 'cancelled', 'cancelled', p_principal, p_req, a->>'reason',
              t.work || jsonb_build_object('outcome', 'cancelled'));
    PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'reason', a->>'reason',
        'lines', coalesce((SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r), '[]')),
        p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;
