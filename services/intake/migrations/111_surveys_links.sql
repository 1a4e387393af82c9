-- intake: the ticket names its satisfaction callback and its complaints (issue 14, point 5), and
-- TicketOpened carries the customer so that surveys can give a complaint opened for a ticket
-- that ticket's customer without retyping (point 8).
--
-- Intake follows surveys' stream: surveys.CallbackScheduled sets tickets.callback_id,
-- surveys.ComplaintOpened adds to tickets.complaints. ticket_json() shows both;
-- cmd_open_ticket() adds `customer` to TicketOpened (otherwise unchanged from 104).

ALTER TABLE tickets ADD COLUMN callback_id text,
                    ADD COLUMN complaints text[] NOT NULL DEFAULT '{}';

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
        'complaints', CASE WHEN cardinality(t.complaints) > 0 THEN to_jsonb(t.complaints) END,
        'warnings', to_jsonb(t.warnings),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'from_state', e.from_state, 'to_state', e.to_state, 'event', e.event,
                'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM ticket_timeline e WHERE e.ticket_id = t.id) END));
END $$;

CREATE OR REPLACE FUNCTION cmd_open_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c centers;
    t tickets;
    v_key text;
    v_last_closed timestamptz;
    v_history jsonb;
    v_exchanges int;
    v_actor text := coalesce(p_principal->>'subject', 'unknown');
BEGIN
    SELECT * INTO c FROM centers WHERE code = a->>'center';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_center', format('centre %s does not exist', a->>'center'));
    END IF;
    IF NOT may_see(p_principal, c.code, c.region) OR p_principal->>'role' = 'reviewer'
       OR p_principal->>'role' = 'finance' THEN
        PERFORM fail(403, 'forbidden', format('you may not open tickets for centre %s', c.code));
    END IF;
    v_key := coalesce(nullif(a#>>'{device,imei}', ''), nullif(a#>>'{device,vin}', ''),
                      CASE WHEN coalesce(a#>>'{device,serial}', '') <> ''
                           THEN coalesce(a#>>'{device,brand}', '') || '/' || (a#>>'{device,serial}') END);
    IF v_key IS NOT NULL THEN
        SELECT max(closed_at) FILTER (WHERE state = 'closed'),
               count(*) FILTER (WHERE state = 'exchanged')
            INTO v_last_closed, v_exchanges FROM tickets WHERE device_key = v_key;
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'ticket_id', r.ticket_id, 'dropped_off', r.dropped_off::text,
                   'returned', r.returned::text, 'hours', r.hours, 'problem', r.problem,
                   'listed', r.listed, 'serious_safety', r.serious_safety) ORDER BY r.returned), '[]')
            INTO v_history FROM device_repairs r WHERE r.device_key = v_key;
    END IF;
    INSERT INTO tickets(id, center, region, state, customer_name, customer_phone, category,
                        device, purchase, fault, flags, request, claim_date, extra, device_key,
                        repeat_repair, warnings, manufacturer)
    VALUES ('T' || lpad(nextval('ticket_no')::text, 8, '0'), c.code, c.region, 'received',
            a#>>'{customer,name}', a#>>'{customer,phone}', a#>>'{device,category}',
            coalesce(a->'device', '{}'), coalesce(a->'purchase', '{}'), coalesce(a->'fault', '{}'),
            coalesce(a->'flags', '{}'), a->>'request', (a->>'claim_date')::date,
            jsonb_strip_nulls(jsonb_build_object(
                'seller_has_same_model', a->'seller_has_same_model',
                'consumer_accepts_other_model', a->'consumer_accepts_other_model',
                'use_compensation_rate', a->'use_compensation_rate')),
            v_key,
            v_last_closed IS NOT NULL AND v_last_closed > now() - interval '90 days',
            coalesce(ARRAY(SELECT jsonb_array_elements_text(a->'warnings')), '{}'),
            (SELECT manufacturer FROM brands WHERE lower(brand) = lower(a#>>'{device,brand}')))
    RETURNING * INTO t;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, request_id)
        VALUES (t.id, NULL, 'received', 'opened', v_actor, p_req);
    PERFORM audit_write(p_principal, p_req, 'open', 'ticket', t.id, '{}');
    PERFORM emit('intake', 'intake.TicketOpened', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region,
        'claim_date', t.claim_date::text, 'device', t.device, 'purchase', t.purchase,
        'fault', t.fault, 'flags', t.flags, 'request', t.request,
        'seller_has_same_model', a->'seller_has_same_model',
        'consumer_accepts_other_model', a->'consumer_accepts_other_model',
        'use_compensation_rate', a->'use_compensation_rate',
        'repeat_repair', t.repeat_repair, 'history', coalesce(v_history, '[]'),
        'exchanges', coalesce(v_exchanges, 0),
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION on_callback_scheduled(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET callback_id = e->>'callback_id'
        WHERE id = e->>'ticket_id' AND coalesce(e->>'callback_id', '') <> ''
          AND callback_id IS DISTINCT FROM e->>'callback_id';
END $$;

CREATE FUNCTION on_complaint_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET complaints = complaints || (e->>'complaint_id')
        WHERE id = e->>'ticket_id' AND coalesce(e->>'complaint_id', '') <> ''
          AND NOT (e->>'complaint_id' = ANY (complaints));
END $$;
