-- intake: promises the docs make, kept (issue 14).
--
-- 1. Part lines follow the parts ledger: parts.PartsIssued marks a line `issued`,
--    parts.PartsReleased marks it `released` (requested -> reserved | backordered -> issued |
--    released), whatever state the ticket is in by then (usually `ready` or `closed`).
-- 2. "Return unrepaired": a way out of every open state before the repair is done (received,
--    adjudicated, awaiting_review, estimate_pending, in_repair, awaiting_parts) -> `returned`.
--    It releases the part lines (TicketCancelled, as a cancellation does) and closes the ticket
--    (TicketClosed, outcome `declined`: nothing is charged, the callback is scheduled).
-- 3. Hand-back carries the customer's payment method into TicketClosed.

ALTER TABLE tickets DROP CONSTRAINT tickets_state_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_state_check CHECK (state IN ('received', 'adjudicated',
    'awaiting_review', 'estimate_pending', 'in_repair', 'awaiting_parts', 'ready', 'closed',
    'cancelled', 'declined', 'refunded', 'exchanged', 'returned'));

-- move() stamps closed_at for every final state, `returned` included.
CREATE OR REPLACE FUNCTION move(t tickets, p_to text, p_event text, p_principal jsonb, p_req text,
                                p_note text, p_work jsonb DEFAULT NULL) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    r tickets;
BEGIN
    UPDATE tickets SET state = p_to, updated_at = now(), work = coalesce(p_work, work),
                       closed_at = CASE WHEN p_to IN ('closed', 'refunded', 'exchanged', 'declined',
                                                      'cancelled', 'returned') THEN now() ELSE closed_at END
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

-- TicketClosed now carries the payment method recorded at hand-back (work.payment_method).
CREATE OR REPLACE FUNCTION closed_event(t tickets, p_outcome text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('intake', 'intake.TicketClosed', jsonb_strip_nulls(jsonb_build_object(
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
        'payer', CASE WHEN p_outcome = 'repaired' THEN payer_of(t) WHEN p_outcome IN ('refunded', 'exchanged') THEN 'seller' END,
        'payment_method', t.work->>'payment_method')),
        p_req);
END $$;

CREATE OR REPLACE FUNCTION cmd_handback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', v_outcome, 'payment_method', a->>'payment_method')));
    PERFORM closed_event(t, v_outcome, p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- parts.PartsIssued: the lines were drawn from stock for the repair.
CREATE FUNCTION on_parts_issued(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_lines(e->>'ticket_id',
                       coalesce((SELECT jsonb_agg(l) FROM jsonb_array_elements(e->'lines') l
                                 WHERE l ? 'line_no'), '[]'), 'issued');
END $$;

-- parts.PartsReleased: reserved (or backordered) lines given back (cancelled, returned
-- unrepaired, or not used by the repair).
CREATE FUNCTION on_parts_released(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_lines(e->>'ticket_id',
                       coalesce((SELECT jsonb_agg(l) FROM jsonb_array_elements(e->'lines') l
                                 WHERE l ? 'line_no'), '[]'), 'released');
END $$;

-- Return unrepaired: the customer takes the device back as it is (they changed their mind, or
-- the repair is impossible). Nothing was repaired, so nothing is charged (TicketClosed with the
-- outcome `declined`, like a declined estimate); the part lines are released (TicketCancelled);
-- surveys still schedules the satisfaction callback.
CREATE FUNCTION cmd_return_unrepaired(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending',
                       'in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'return unrepaired',
                        'received, adjudicated, awaiting_review, estimate_pending, in_repair or awaiting_parts');
    END IF;
    t := move(t, 'returned', 'returned_unrepaired', p_principal, p_req, a->>'reason',
              t.work || jsonb_build_object('outcome', 'returned_unrepaired'));
    PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region,
        'reason', 'returned unrepaired: ' || (a->>'reason'),
        'lines', coalesce((SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r), '[]')),
        p_req);
    PERFORM closed_event(t, 'declined', p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;
