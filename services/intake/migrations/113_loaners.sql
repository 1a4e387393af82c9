-- intake: loaners belong to real tickets (issue 14, point 7), intake's side.
--
-- Parts publishes parts.LoanerLent / parts.LoanerReturned; intake keeps tickets.loaner_unit (the
-- unit the ticket's customer holds) and shows it on the ticket. Hand-back and return unrepaired
-- are refused (409 loaner_out, naming the unit) while the customer holds a unit, unless the
-- request returns it (`loaner_unit`); then TicketClosed carries `loaner_unit` and parts takes the
-- unit back. A `loaner_unit` the ticket does not hold is 422.

ALTER TABLE tickets ADD COLUMN loaner_unit text;

CREATE FUNCTION on_loaner_lent(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET loaner_unit = e->>'serial'
        WHERE id = e->>'ticket_id' AND coalesce(e->>'serial', '') <> ''
          AND loaner_unit IS DISTINCT FROM e->>'serial'
          AND state NOT IN ('closed', 'refunded', 'exchanged', 'declined', 'cancelled', 'returned');
END $$;

CREATE FUNCTION on_loaner_returned(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET loaner_unit = NULL
        WHERE id = e->>'ticket_id' AND loaner_unit = e->>'serial';
END $$;

-- Refuse p_action while the customer holds a loaner the request does not return.
CREATE FUNCTION check_loaner(t tickets, a jsonb, p_action text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_unit text := nullif(a->>'loaner_unit', '');
BEGIN
    IF t.loaner_unit IS NOT NULL AND v_unit IS DISTINCT FROM t.loaner_unit THEN
        PERFORM fail(409, 'loaner_out',
                     format('the customer of ticket %s still holds loaner %s: take it back first, or give loaner_unit %s with the %s',
                            t.id, t.loaner_unit, t.loaner_unit, p_action));
    END IF;
    IF v_unit IS NOT NULL AND t.loaner_unit IS NULL THEN
        PERFORM fail(422, 'unknown_loaner', format('ticket %s holds no loaner unit %s', t.id, v_unit));
    END IF;
END $$;

-- The unit came back with the ticket: forget it here at once (parts confirms with LoanerReturned).
CREATE FUNCTION loaner_back(t tickets) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    r tickets;
BEGIN
    IF t.loaner_unit IS NULL OR t.work->>'loaner_returned' IS DISTINCT FROM t.loaner_unit THEN
        RETURN t;
    END IF;
    UPDATE tickets SET loaner_unit = NULL WHERE id = t.id RETURNING * INTO r;
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION ticket_json(t tickets, p_timeline boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'center', t.center, 'region', t.region, 'state', t.state,
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone),
        'device', t.device, 'purchase', t.purchase, 'fault', t.fault, 'flags', t.flags,
        'request', t.request, 'claim_date', t.claim_date::text,
        'repeat_repair', t.repeat_repair,
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'updated_at', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'decision', t.decision,
        'manufacturer', t.manufacturer,
        'work', CASE WHEN t.work = '{}' THEN NULL ELSE t.work END,
        'callback_id', t.callback_id,
        'loaner_unit', t.loaner_unit,
        'complaints', CASE WHEN cardinality(t.complaints) > 0 THEN to_jsonb(t.complaints) END,
        'warnings', to_jsonb(t.warnings),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'from_state', e.from_state, 'to_state', e.to_state, 'event', e.event,
                'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM ticket_timeline e WHERE e.ticket_id = t.id) END));
END $$;

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
        'payment_method', t.work->>'payment_method',
        'loaner_unit', t.work->>'loaner_returned')),
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
    PERFORM check_loaner(t, a, 'hand-back');
    t := move(t, v_to, 'handed_back', p_principal, p_req, a->>'note',
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', v_outcome, 'payment_method', a->>'payment_method',
                  'loaner_returned', nullif(a->>'loaner_unit', ''))));
    t := loaner_back(t);
    PERFORM closed_event(t, v_outcome, p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_return_unrepaired(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending',
                       'in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'return unrepaired',
                        'received, adjudicated, awaiting_review, estimate_pending, in_repair or awaiting_parts');
    END IF;
    PERFORM check_loaner(t, a, 'return unrepaired');
    t := move(t, 'returned', 'returned_unrepaired', p_principal, p_req, a->>'reason',
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', 'returned_unrepaired', 'loaner_returned', nullif(a->>'loaner_unit', ''))));
    t := loaner_back(t);
    PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region,
        'reason', 'returned unrepaired: ' || (a->>'reason'),
        'lines', coalesce((SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r), '[]')),
        p_req);
    PERFORM closed_event(t, 'declined', p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;
