-- intake: centres, tickets, their timeline, and device repair history.

CREATE TABLE regions (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE centers (
    code   text PRIMARY KEY,
    name   text NOT NULL,
    region text NOT NULL REFERENCES regions(code)
);

-- Which manufacturer stands behind a brand (warranty claims go to it).
CREATE TABLE brands (
    brand        text PRIMARY KEY,
    manufacturer text NOT NULL
);

CREATE SEQUENCE ticket_no;

CREATE TABLE tickets (
    id             text PRIMARY KEY,
    center         text NOT NULL REFERENCES centers(code),
    region         text NOT NULL REFERENCES regions(code),
    state          text NOT NULL CHECK (state IN ('received', 'adjudicated', 'awaiting_review',
                        'estimate_pending', 'in_repair', 'awaiting_parts', 'ready', 'closed',
                        'cancelled', 'declined', 'refunded', 'exchanged')),
    customer_name  text NOT NULL,
    customer_phone text NOT NULL,
    category       text NOT NULL,
    device         jsonb NOT NULL,
    purchase       jsonb NOT NULL,
    fault          jsonb NOT NULL,
    flags          jsonb NOT NULL DEFAULT '{}',
    request        text NOT NULL CHECK (request IN ('refund', 'exchange', 'repair')),
    claim_date     date NOT NULL,
    extra          jsonb NOT NULL DEFAULT '{}',
    device_key     text,            -- IMEI, else VIN, else brand/serial: who the device is
    repeat_repair  boolean NOT NULL DEFAULT false,
    warnings       text[] NOT NULL DEFAULT '{}',
    decision       jsonb,
    manufacturer   text,
    work           jsonb NOT NULL DEFAULT '{}',
    opened_at      timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz
);
CREATE INDEX tickets_center_opened ON tickets (center, opened_at DESC, id DESC);
CREATE INDEX tickets_device ON tickets (device_key);
CREATE INDEX tickets_phone ON tickets (customer_phone);
CREATE INDEX tickets_state ON tickets (state);

CREATE TABLE ticket_timeline (
    id         bigserial PRIMARY KEY,
    ticket_id  text NOT NULL REFERENCES tickets(id),
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text NOT NULL,
    event      text NOT NULL,
    actor      text NOT NULL,
    note       text,
    request_id text
);
CREATE INDEX ticket_timeline_ticket ON ticket_timeline (ticket_id, id);

-- Completed repairs per device, counted by the warranty rules (M-5, C-5, C-6).
CREATE TABLE device_repairs (
    ticket_id      text PRIMARY KEY REFERENCES tickets(id),
    device_key     text NOT NULL,
    dropped_off    date NOT NULL,
    returned       date NOT NULL,
    hours          int NOT NULL CHECK (hours >= 0),
    problem        text NOT NULL,
    listed         boolean NOT NULL,
    serious_safety boolean NOT NULL DEFAULT false
);
CREATE INDEX device_repairs_device ON device_repairs (device_key, returned);

-- Scope check: may this principal see tickets of centre p_center (in region p_region)?
CREATE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'finance' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' = p_center
        ELSE false END
$$;

CREATE FUNCTION ticket_json(t tickets, p_timeline boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
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
        'warnings', to_jsonb(t.warnings),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'from_state', e.from_state, 'to_state', e.to_state, 'event', e.event,
                'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM ticket_timeline e WHERE e.ticket_id = t.id) END))
$$;

-- Open a ticket. Arguments are already validated by the service (types, formats, Luhn,
-- dates); this checks what needs the database: the centre, the caller's scope, history.
CREATE FUNCTION cmd_open_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
        SELECT max(closed_at) INTO v_last_closed FROM tickets
            WHERE device_key = v_key AND state = 'closed';
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'ticket_id', r.ticket_id, 'dropped_off', r.dropped_off::text,
                   'returned', r.returned::text, 'hours', r.hours, 'problem', r.problem,
                   'listed', r.listed, 'serious_safety', r.serious_safety) ORDER BY r.returned), '[]')
            INTO v_history FROM device_repairs r WHERE r.device_key = v_key;
        SELECT count(*) INTO v_exchanges FROM tickets WHERE device_key = v_key AND state = 'exchanged';
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
        'exchanges', coalesce(v_exchanges, 0)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION cmd_get_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = a->>'id';
    -- Another centre's ticket is indistinguishable from a missing one.
    IF NOT FOUND OR NOT may_see(p_principal, t.center, t.region) THEN
        PERFORM fail(404, 'not_found', format('ticket %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE FUNCTION cmd_list_tickets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_rows jsonb;
    v_n int;
    v_last record;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT opened_at, id INTO v_after_at, v_after_id FROM tickets WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'the cursor does not name a ticket');
        END IF;
    END IF;
    WITH page AS (
        SELECT t FROM tickets t
        WHERE may_see(p_principal, t.center, t.region)
          AND (a->>'center' IS NULL OR t.center = a->>'center')
          AND (a->>'state' IS NULL OR t.state = a->>'state')
          AND (a->>'imei' IS NULL OR t.device->>'imei' = a->>'imei')
          AND (a->>'serial' IS NULL OR t.device->>'serial' = a->>'serial')
          AND (a->>'phone' IS NULL OR t.customer_phone = a->>'phone')
          AND (a->>'from' IS NULL OR t.opened_at >= ((a->>'from')::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'to' IS NULL OR t.opened_at < (((a->>'to')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (v_after_id IS NULL OR (t.opened_at, t.id) < (v_after_at, v_after_id))
        ORDER BY t.opened_at DESC, t.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(ticket_json(page.t, false)), '[]'), count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'tickets', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

-- WarrantyDecided (stream "warranty"): record the decision and move the ticket on.
CREATE FUNCTION on_warranty_decided(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    v_to text;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = e->>'ticket_id' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN; -- not ours (another intake partition); nothing to do
    END IF;
    v_to := CASE WHEN coalesce((e->>'review')::boolean, false) THEN 'awaiting_review' ELSE 'adjudicated' END;
    UPDATE tickets SET decision = (e - 'ticket_id' - 'decision_id' - 'policy_version'),
                       state = v_to, updated_at = now()
        WHERE id = t.id AND state IN ('received', 'awaiting_review');
    IF FOUND THEN
        INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
            VALUES (t.id, t.state, v_to, 'warranty_decided', 'warranty',
                    (e->>'status') || ': ' || coalesce(e->>'remedy', 'none') || ' — ' || coalesce(e->>'reason', ''));
    END IF;
END $$;
