-- intake: TicketOpened names the device's earlier refunds and exchanges (`remedies`: ticket,
-- remedy, centre, date — any centre, same IMEI / VIN / brand+serial) so that warranty's rule R-1
-- sends a second refund or exchange of the same device to a reviewer (issue 14, point 4).
-- cmd_open_ticket() is otherwise unchanged from 111.

CREATE OR REPLACE FUNCTION cmd_open_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c centers;
    t tickets;
    v_key text;
    v_last_closed timestamptz;
    v_history jsonb;
    v_exchanges int;
    v_remedies jsonb;
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
        SELECT jsonb_agg(jsonb_build_object(
                   'ticket_id', p.id, 'remedy', CASE p.state WHEN 'refunded' THEN 'refund' ELSE 'exchange' END,
                   'center', p.center,
                   'closed_date', (p.closed_at AT TIME ZONE 'Asia/Shanghai')::date::text) ORDER BY p.closed_at, p.id)
            INTO v_remedies FROM tickets p
            WHERE p.device_key = v_key AND p.state IN ('refunded', 'exchanged');
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
        'remedies', coalesce(v_remedies, '[]'),
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', ticket_json(t, true));
END $$;
