-- intake: tickets functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Scope checks fail closed. A centre principal without a site, or a region principal without a
-- region, used to make may_see() return NULL (NULL = 'SH01' is NULL), and `NOT may_see(...)` is
-- NULL too, so `IF NOT FOUND OR NOT may_see(...) THEN fail` never failed: such a principal read
-- every centre's tickets by id. Now the answer is always true or false, and false unless the
-- principal names a non-empty site (region) equal to the row's.
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'finance' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' <> '' AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' <> '' AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;

-- ticket_json() as in 113_loaners.sql, plus the promise.
CREATE OR REPLACE FUNCTION ticket_json(t tickets, p_timeline boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = t.customer_id;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'center', t.center, 'region', t.region, 'state', t.state,
        'customer_id', t.customer_id, 'customer_tier', c.tier, 'account_owner', c.account_owner,
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
        'diagnosis_fee_consent', CASE WHEN (t.extra->>'diagnosis_fee_consent')::boolean THEN true END,
        'complaints', CASE WHEN cardinality(t.complaints) > 0 THEN to_jsonb(t.complaints) END,
        'warnings', to_jsonb(t.warnings),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'from_state', e.from_state, 'to_state', e.to_state, 'event', e.event,
                'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM ticket_timeline e WHERE e.ticket_id = t.id) END)) || promise_json(t);
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
    v_remedies jsonb;
    v_actor text := coalesce(p_principal->>'subject', 'unknown');
    v_cust customers;
    v_dev devices;
BEGIN
    SELECT * INTO c FROM centers WHERE code = a->>'center';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_center', format('centre %s does not exist', a->>'center'));
    END IF;
    IF NOT may_see(p_principal, c.code, c.region) OR p_principal->>'role' = 'reviewer'
       OR p_principal->>'role' = 'finance' THEN
        PERFORM fail(403, 'forbidden', format('you may not open tickets for centre %s', c.code));
    END IF;
    -- An existing customer (customer_id): name and phone come from the record. Unknown, erased
    -- or out of the desk's sight all answer the same 422 (existence is not revealed).
    IF coalesce(a->>'customer_id', '') <> '' THEN
        SELECT * INTO v_cust FROM customers WHERE id = a->>'customer_id';
        IF NOT FOUND OR v_cust.erased_at IS NOT NULL OR cardinality(v_cust.phones) = 0
           OR NOT may_see_customer(p_principal, v_cust) THEN
            PERFORM fail(422, 'unknown_customer',
                         format('customer_id: customer %s not found', a->>'customer_id'));
        END IF;
        a := jsonb_set(a, '{customer}', jsonb_build_object('name', v_cust.name,
                                                           'phone', v_cust.phones[1]));
    END IF;
    -- An existing device (device_key): its identifiers come from the registry; a device given
    -- as well must be that device.
    IF coalesce(a->>'device_key', '') <> '' THEN
        SELECT * INTO v_dev FROM devices WHERE device_key = a->>'device_key';
        IF NOT FOUND OR NOT may_see_device(p_principal, v_dev) THEN
            PERFORM fail(422, 'unknown_device',
                         format('device_key: device %s not found', a->>'device_key'));
        END IF;
        IF a ? 'device' THEN
            IF coalesce(nullif(a#>>'{device,imei}', ''), nullif(a#>>'{device,vin}', ''),
                        CASE WHEN coalesce(a#>>'{device,serial}', '') <> ''
                             THEN coalesce(a#>>'{device,brand}', '') || '/' || (a#>>'{device,serial}') END)
               IS DISTINCT FROM v_dev.device_key THEN
                PERFORM fail(400, 'validation', 'device_key: the device given is another device');
            END IF;
        ELSE
            IF v_dev.category = 'car' THEN
                PERFORM fail(400, 'validation', 'device.odometer_km: is required for a car');
            END IF;
            a := jsonb_set(a, '{device}', jsonb_strip_nulls(jsonb_build_object(
                'category', v_dev.category, 'brand', v_dev.brand, 'model', v_dev.model,
                'imei', v_dev.imei, 'serial', v_dev.serial, 'vin', v_dev.vin)));
        END IF;
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
                'use_compensation_rate', a->'use_compensation_rate',
                'diagnosis_fee_consent', CASE WHEN (a->>'diagnosis_fee_consent')::boolean THEN true END)),
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

CREATE OR REPLACE FUNCTION cmd_get_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = a->>'id';
    -- Another centre's ticket is indistinguishable from a missing one.
    IF NOT FOUND OR NOT may_see(p_principal, t.center, t.region) THEN
        PERFORM fail(404, 'not_found', format('ticket %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'ticket', t.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', ticket_json(t, true));
END $$;

-- The queue's priority of a ticket (issue 19.8): its customer's tier, VIP 0, key 1, others 2.
CREATE OR REPLACE FUNCTION ticket_priority(p_customer_id text) RETURNS int
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT CASE c.tier WHEN 'vip' THEN 0 WHEN 'key' THEN 1 END
                     FROM customers c WHERE c.id = p_customer_id), 2);
END $$;

-- GET /v1/tickets: newest first, or with order=priority key and VIP customers' tickets first
-- (VIP, key, the others; newest first within each). The cursor is the last ticket's id in
-- either order (a tier changed between two pages moves its tickets in the order, like any
-- concurrent change of a paged list).
--
-- Keyset pages at any depth and table size (issue 18: a page under a second with 100,000
-- tickets): the query is assembled from the filters actually given (EXECUTE, so each is
-- planned with its values) and the caller's scope is also spelled as plain `center =` /
-- `region =` conditions beside may_see(), so that an index on (center | region | state,
-- opened_at DESC, id DESC) returns the page in order and the scan stops at the page's end.
-- With order=priority the key and VIP customers' tickets (few) are sorted apart and the others
-- read in index order, skipping those customers: no per-row priority lookup over every
-- candidate, no sort of the whole list.
CREATE OR REPLACE FUNCTION cmd_list_tickets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_priority boolean := coalesce(a->>'order', 'newest') = 'priority';
    v_after_at timestamptz;
    v_after_id text;
    v_after_rank int;
    v_rows jsonb;
    v_n int;
    v_mask boolean := NOT sees_phones(p_principal);
    v_from timestamptz := ((a->>'from')::date::timestamp AT TIME ZONE 'Asia/Shanghai');
    v_to timestamptz := (((a->>'to')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');
    v_where text := 'may_see($1, t.center, t.region)';
    v_sql text;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT opened_at, id, ticket_priority(customer_id)
            INTO v_after_at, v_after_id, v_after_rank FROM tickets WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'the cursor does not name a ticket');
        END IF;
    END IF;
    -- The scope again as plain conditions (may_see() stays: it decides, these only help the plan).
    IF p_principal->>'role' = 'center' THEN
        v_where := v_where || ' AND t.center = coalesce($1->>''site'', '''')';
    ELSIF p_principal->>'role' = 'region' THEN
        v_where := v_where || ' AND t.region = coalesce($1->>''region'', '''')';
    END IF;
    IF a->>'center' IS NOT NULL THEN v_where := v_where || ' AND t.center = ($2->>''center'')'; END IF;
    IF a->>'state' IS NOT NULL THEN v_where := v_where || ' AND t.state = ($2->>''state'')'; END IF;
    IF a->>'imei' IS NOT NULL THEN v_where := v_where || ' AND (t.device->>''imei'') = ($2->>''imei'')'; END IF;
    IF a->>'serial' IS NOT NULL THEN v_where := v_where || ' AND (t.device->>''serial'') = ($2->>''serial'')'; END IF;
    IF a->>'phone' IS NOT NULL THEN v_where := v_where || ' AND t.customer_phone = ($2->>''phone'')'; END IF;
    IF v_from IS NOT NULL THEN v_where := v_where || ' AND t.opened_at >= $3'; END IF;
    IF v_to IS NOT NULL THEN v_where := v_where || ' AND t.opened_at < $4'; END IF;
    IF NOT v_priority THEN
        IF v_after_id IS NOT NULL THEN v_where := v_where || ' AND (t.opened_at, t.id) < ($5, $6)'; END IF;
        v_sql := 'WITH page AS (SELECT t, 2 AS rank FROM tickets t WHERE ' || v_where ||
                 ' ORDER BY t.opened_at DESC, t.id DESC LIMIT $8)';
    ELSE
        -- rank 0 (VIP) and 1 (key): those customers' tickets, sorted; rank 2: every other ticket
        -- in index order. Each part stops at a page; the page is the first v_limit of the two.
        -- The key and VIP customers' tickets are read customer by customer (tickets_customer; the
        -- OFFSET 0 keeps the planner from turning it into a scan of every ticket in scope), unless
        -- a phone, IMEI or serial number names a few tickets: then those are read by their index.
        v_sql := 'WITH tiered AS (SELECT x.t, x.rank FROM customers c
                      CROSS JOIN LATERAL (SELECT t, CASE c.tier WHEN ''vip'' THEN 0 ELSE 1 END AS rank
                                          FROM tickets t WHERE t.customer_id = c.id AND ' || v_where ||
                 CASE WHEN coalesce(a->>'phone', a->>'imei', a->>'serial') IS NULL THEN ' OFFSET 0' ELSE '' END || ') x
                      WHERE c.tier IN (''vip'', ''key'')' ||
                 CASE WHEN v_after_id IS NOT NULL THEN
                      ' AND (x.rank > $7 OR (x.rank = $7 AND ((x.t).opened_at, (x.t).id) < ($5, $6)))' ELSE '' END ||
                 '    ORDER BY x.rank, (x.t).opened_at DESC, (x.t).id DESC LIMIT $8),
                 others AS (SELECT t, 2 AS rank FROM tickets t
                      WHERE ' || v_where ||
                 '      AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = t.customer_id AND c.tier IN (''vip'', ''key''))' ||
                 CASE WHEN v_after_id IS NOT NULL THEN ' AND ($7 < 2 OR (t.opened_at, t.id) < ($5, $6))' ELSE '' END ||
                 '    ORDER BY t.opened_at DESC, t.id DESC LIMIT $8),
                 page AS (SELECT u.t, u.rank FROM (SELECT * FROM tiered UNION ALL SELECT * FROM others) u
                          ORDER BY u.rank, (u.t).opened_at DESC, (u.t).id DESC LIMIT $8)';
    END IF;
    EXECUTE v_sql || '
        SELECT coalesce(jsonb_agg(CASE WHEN $9
                                       THEN jsonb_set(ticket_json(page.t, false), ''{customer,phone}'',
                                                      to_jsonb(mask_phone((page.t).customer_phone)))
                                       ELSE ticket_json(page.t, false) END
                                  ORDER BY page.rank, (page.t).opened_at DESC, (page.t).id DESC), ''[]''),
               count(*) FROM page'
        INTO v_rows, v_n
        USING p_principal, a, v_from, v_to, v_after_at, v_after_id, v_after_rank, v_limit, v_mask;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'tickets', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

-- The ticket for a command, locked; 404 when it does not exist or is out of the caller's scope,
-- 403 when the caller's role may not change tickets.
CREATE OR REPLACE FUNCTION ticket_for_update(p_principal jsonb, p_id text) RETURNS tickets
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

CREATE OR REPLACE FUNCTION payer_of(t tickets) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN coalesce((t.work->>'paid')::boolean, repair_is_paid(t.decision))
                THEN 'customer' ELSE 'manufacturer' END
$$;

-- Reference data is checked: a ticket whose device names a brand intake does not know is a 422
-- that lists the known brands (before, it was opened with no manufacturer, and its warranty
-- claim had nobody to go to). Brands are matched without regard to case, as when the
-- manufacturer is looked up. A trigger, so that every way a ticket is inserted is covered.
CREATE OR REPLACE FUNCTION tickets_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_brand text := nullif(NEW.device->>'brand', '');
BEGIN
    IF v_brand IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(brand) = lower(v_brand)) THEN
        PERFORM fail(422, 'unknown_brand',
                     format('device.brand: %s is not a known brand (known: %s)', v_brand,
                            coalesce((SELECT string_agg(brand, ', ' ORDER BY brand) FROM brands),
                                     'none')));
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER tickets_check_references BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_check_references();
