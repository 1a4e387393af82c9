-- intake: customers and the device registry (issue 17, point 4; decision 0016). A customer has
-- a name, phones, an address, consent to be contacted per channel and a tier (regular, key,
-- vip; key and VIP name an account owner). A device (IMEI, else VIN, else brand/serial: the
-- tickets' device_key) has an owner and its history is its tickets, at every centre.
--
-- Every ticket links to a customer: a trigger finds the customer by the ticket's phone
-- (`customer_phones` is the dedupe: one customer per phone number) or registers a new one, and
-- records the device with its current owner. cmd_open_ticket() stays unchanged.
--
-- Personal data: customers are read only by admin and the centre desks (sees_phones()); a desk
-- sees the customers registered at its centre or with a ticket there; every read of a customer
-- writes an audit row; replies are not stored (nostore). Devices carry no personal data (the
-- owner's id only) and are read by the ticket readers in scope (not finance). Events
-- (intake.CustomerChanged) carry the id, tier and account owner — never a name or phone.

CREATE SEQUENCE customer_no;

CREATE TABLE customers (
    id            text PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phones        text[] NOT NULL,
    address       text CHECK (length(address) <= 500),
    consent       jsonb NOT NULL DEFAULT '{"sms": true, "phone": true}',
    tier          text NOT NULL DEFAULT 'regular' CHECK (tier IN ('regular', 'key', 'vip')),
    account_owner text,
    center        text REFERENCES centers(code),   -- where the customer was first registered
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (tier = 'regular' OR coalesce(account_owner, '') <> '')
);

CREATE TABLE customer_phones (
    phone       text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers(id)
);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);
CREATE INDEX customers_name ON customers (lower(name) text_pattern_ops);

CREATE TABLE devices (
    device_key    text PRIMARY KEY,
    imei          text,
    serial        text,
    vin           text,
    category      text,
    brand         text,
    model         text,
    purchase_date date,
    invoice_ref   text,
    customer_id   text REFERENCES customers(id),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_customer ON devices (customer_id);

ALTER TABLE tickets ADD COLUMN customer_id text REFERENCES customers(id);
CREATE INDEX tickets_customer ON tickets (customer_id);

CREATE FUNCTION iso_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A ticket as a line of a device's or customer's history (no personal data).
CREATE FUNCTION history_json(t tickets) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'center', t.center, 'state', t.state, 'request', t.request,
        'fault_code', t.fault->>'code', 'device_key', t.device_key,
        'opened_at', iso_ts(t.opened_at), 'closed_at', iso_ts(t.closed_at)))
$$;

CREATE FUNCTION device_json(d devices, p_history boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'key', d.device_key, 'imei', d.imei, 'serial', d.serial, 'vin', d.vin,
        'category', d.category, 'brand', d.brand, 'model', d.model,
        'purchase_date', d.purchase_date::text, 'invoice_ref', d.invoice_ref,
        'customer_id', d.customer_id, 'first_seen_at', iso_ts(d.first_seen_at),
        'history', CASE WHEN p_history THEN
            (SELECT coalesce(jsonb_agg(history_json(t) ORDER BY t.opened_at, t.id), '[]')
             FROM tickets t WHERE t.device_key = d.device_key) END))
$$;

CREATE FUNCTION customer_json(c customers, p_full boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'name', c.name, 'phones', to_jsonb(c.phones), 'address', c.address,
        'consent', c.consent, 'tier', c.tier, 'account_owner', c.account_owner,
        'center', c.center, 'created_at', iso_ts(c.created_at), 'updated_at', iso_ts(c.updated_at),
        'devices', CASE WHEN p_full THEN
            (SELECT coalesce(jsonb_agg(device_json(d, false) ORDER BY d.first_seen_at, d.device_key), '[]')
             FROM devices d WHERE d.customer_id = c.id) END,
        'tickets', CASE WHEN p_full THEN
            (SELECT coalesce(jsonb_agg(history_json(t) ORDER BY t.opened_at, t.id), '[]')
             FROM tickets t WHERE t.customer_id = c.id) END))
$$;

-- May this principal read customer c? Admin: all; a centre desk: customers registered at its
-- centre or with a ticket there. Everyone else (region, finance, reviewer, warehouse): no.
CREATE FUNCTION may_see_customer(p jsonb, c customers) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND (c.center = p->>'site' OR EXISTS (
            SELECT 1 FROM tickets t WHERE t.customer_id = c.id AND t.center = p->>'site'))
        ELSE false END, false)
$$;

-- May this principal read device d (and its history)? Anyone who may see one of its tickets.
CREATE FUNCTION may_see_device(p jsonb, d devices) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p->>'role' IN ('admin', 'reviewer')
        OR EXISTS (SELECT 1 FROM tickets t WHERE t.device_key = d.device_key
                   AND p->>'role' IN ('region', 'center') AND may_see(p, t.center, t.region))
$$;

CREATE FUNCTION customer_event(p_req text, c customers, p_change text) RETURNS void
LANGUAGE sql AS $$
    SELECT emit('intake', 'intake.CustomerChanged', jsonb_strip_nulls(jsonb_build_object(
        'customer_id', c.id, 'change', p_change, 'tier', c.tier,
        'account_owner', c.account_owner, 'center', c.center)), p_req);
$$;

-- The phone as stored: digits and a leading '+' only.
CREATE FUNCTION norm_phone(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(regexp_replace(coalesce(p, ''), '[^0-9+]', '', 'g'), '')
$$;

-- Every ticket links to its customer (found by phone, else registered) and its device.
CREATE FUNCTION tickets_link_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_phone text := norm_phone(NEW.customer_phone);
    v_id text;
    c customers;
BEGIN
    IF v_phone IS NOT NULL THEN
        -- one customer per phone, also when two desks register the same new phone at once
        PERFORM pg_advisory_xact_lock(hashtext('customer_phone:' || v_phone));
        SELECT customer_id INTO v_id FROM customer_phones WHERE phone = v_phone;
        IF v_id IS NULL THEN
            INSERT INTO customers(id, name, phones, center)
            VALUES ('CU' || lpad(nextval('customer_no')::text, 8, '0'), NEW.customer_name,
                    ARRAY[v_phone], NEW.center)
            RETURNING * INTO c;
            INSERT INTO customer_phones(phone, customer_id) VALUES (v_phone, c.id);
            PERFORM customer_event(NULL, c, 'registered');
            v_id := c.id;
        END IF;
        NEW.customer_id := v_id;
    END IF;
    IF NEW.device_key IS NOT NULL THEN
        INSERT INTO devices(device_key, imei, serial, vin, category, brand, model, purchase_date,
                            invoice_ref, customer_id)
        VALUES (NEW.device_key, nullif(NEW.device->>'imei', ''), nullif(NEW.device->>'serial', ''),
                nullif(NEW.device->>'vin', ''), NEW.category, nullif(NEW.device->>'brand', ''),
                nullif(NEW.device->>'model', ''),
                CASE WHEN NEW.purchase->>'invoice_date' ~ '^\d{4}-\d{2}-\d{2}$'
                     THEN (NEW.purchase->>'invoice_date')::date END,
                nullif(coalesce(NEW.purchase->>'invoice_no', NEW.purchase->>'invoice_ref'), ''),
                NEW.customer_id)
        ON CONFLICT (device_key) DO UPDATE
            SET customer_id = coalesce(EXCLUDED.customer_id, devices.customer_id),
                model = coalesce(devices.model, EXCLUDED.model),
                purchase_date = coalesce(devices.purchase_date, EXCLUDED.purchase_date),
                invoice_ref = coalesce(devices.invoice_ref, EXCLUDED.invoice_ref),
                updated_at = now();
    END IF;
    RETURN NEW;
END $$;

-- BEFORE INSERT triggers fire by name: after tickets_check_center_open / _references refused
-- what they refuse.
CREATE TRIGGER tickets_link_customer BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_link_customer();

-- Tickets opened before this migration: their customers and devices, oldest first.
DO $$
DECLARE
    t record;
    v_id text;
    v_phone text;
BEGIN
    FOR t IN SELECT * FROM tickets ORDER BY opened_at, id LOOP
        v_phone := norm_phone(t.customer_phone);
        CONTINUE WHEN v_phone IS NULL;
        SELECT customer_id INTO v_id FROM customer_phones WHERE phone = v_phone;
        IF v_id IS NULL THEN
            v_id := 'CU' || lpad(nextval('customer_no')::text, 8, '0');
            INSERT INTO customers(id, name, phones, center, created_at)
                VALUES (v_id, t.customer_name, ARRAY[v_phone], t.center, t.opened_at);
            INSERT INTO customer_phones VALUES (v_phone, v_id);
        END IF;
        UPDATE tickets SET customer_id = v_id WHERE id = t.id;
        IF t.device_key IS NOT NULL THEN
            INSERT INTO devices(device_key, imei, serial, vin, category, brand, model, customer_id,
                                first_seen_at)
            VALUES (t.device_key, nullif(t.device->>'imei', ''), nullif(t.device->>'serial', ''),
                    nullif(t.device->>'vin', ''), t.category, nullif(t.device->>'brand', ''),
                    nullif(t.device->>'model', ''), v_id, t.opened_at)
            ON CONFLICT (device_key) DO UPDATE SET customer_id = EXCLUDED.customer_id;
        END IF;
    END LOOP;
END $$;

-- A ticket names its customer, the customer's tier and (key / VIP) account owner (issue 19,
-- point 8). Otherwise as in 113.
CREATE OR REPLACE FUNCTION ticket_json(t tickets, p_timeline boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = t.customer_id;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'center', t.center, 'region', t.region, 'state', t.state,
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone),
        'customer_id', t.customer_id, 'customer_tier', c.tier, 'account_owner', c.account_owner,
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

-- ---- commands ----

-- Validate a customer's fields (create: p_create); raises 400 naming every bad field.
CREATE FUNCTION customer_check(a jsonb, p_create boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_fields jsonb := '[]';
    v_ph text;
BEGIN
    IF (p_create OR a ? 'name') AND coalesce(btrim(a->>'name'), '') = '' THEN
        v_fields := v_fields || jsonb_build_object('field', 'name', 'problem', 'is required');
    ELSIF length(a->>'name') > 200 THEN
        v_fields := v_fields || jsonb_build_object('field', 'name', 'problem', 'is longer than 200');
    END IF;
    IF p_create AND jsonb_array_length(coalesce(a->'phones', '[]')) = 0 THEN
        v_fields := v_fields || jsonb_build_object('field', 'phones', 'problem', 'at least one phone is required');
    END IF;
    FOR v_ph IN SELECT jsonb_array_elements_text(coalesce(a->'phones', '[]')) LOOP
        IF coalesce(norm_phone(v_ph), '') !~ '^\+?[0-9]{5,20}$' THEN
            v_fields := v_fields || jsonb_build_object('field', 'phones',
                'problem', format('%s is not a phone number (5 to 20 digits)', v_ph));
        END IF;
    END LOOP;
    IF a ? 'tier' AND a->>'tier' NOT IN ('regular', 'key', 'vip') THEN
        v_fields := v_fields || jsonb_build_object('field', 'tier', 'problem', 'must be regular, key or vip');
    END IF;
    IF length(a->>'address') > 500 THEN
        v_fields := v_fields || jsonb_build_object('field', 'address', 'problem', 'is longer than 500');
    END IF;
    IF jsonb_array_length(v_fields) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AS400', MESSAGE = 'validation',
            DETAIL = (SELECT string_agg((f->>'field') || ': ' || (f->>'problem'), '; ')
                      FROM jsonb_array_elements(v_fields) f);
    END IF;
END $$;

CREATE FUNCTION customer_for_update(p jsonb, p_id text) RETURNS customers
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', p_id));
    END IF;
    RETURN c;
END $$;

-- Register phones for customer p_id; a phone of another customer is 409.
CREATE FUNCTION customer_add_phones(p_id text, a jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_ph text;
    v_other text;
BEGIN
    FOR v_ph IN SELECT DISTINCT norm_phone(x) FROM jsonb_array_elements_text(coalesce(a->'phones', '[]')) x LOOP
        PERFORM pg_advisory_xact_lock(hashtext('customer_phone:' || v_ph));
        SELECT customer_id INTO v_other FROM customer_phones WHERE phone = v_ph;
        IF v_other IS NOT NULL AND v_other <> p_id THEN
            PERFORM fail(409, 'phone_taken',
                         format('phones: %s already belongs to customer %s', v_ph, v_other));
        END IF;
        INSERT INTO customer_phones VALUES (v_ph, p_id) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

CREATE FUNCTION cmd_create_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
    v_center text := CASE WHEN p->>'role' = 'center' THEN p->>'site' ELSE nullif(a->>'center', '') END;
BEGIN
    IF p->>'role' NOT IN ('admin', 'center') THEN
        PERFORM fail(403, 'forbidden', 'only admin and the centre desks register customers');
    END IF;
    PERFORM customer_check(a, true);
    IF coalesce(a->>'tier', 'regular') <> 'regular' AND coalesce(a->>'account_owner', '') = '' THEN
        PERFORM fail(400, 'validation', 'account_owner: a key or VIP customer needs a named account owner');
    END IF;
    IF v_center IS NOT NULL AND NOT EXISTS (SELECT 1 FROM centers WHERE code = v_center) THEN
        PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', v_center));
    END IF;
    INSERT INTO customers(id, name, phones, address, consent, tier, account_owner, center)
    VALUES ('CU' || lpad(nextval('customer_no')::text, 8, '0'), btrim(a->>'name'),
            ARRAY(SELECT DISTINCT norm_phone(x) FROM jsonb_array_elements_text(a->'phones') x),
            a->>'address', coalesce(a->'consent', '{"sms": true, "phone": true}'),
            coalesce(a->>'tier', 'regular'), nullif(a->>'account_owner', ''), v_center)
    RETURNING * INTO c;
    PERFORM customer_add_phones(c.id, a);
    PERFORM audit_write(p, p_req, 'create', 'customer', c.id, jsonb_build_object('tier', c.tier));
    PERFORM customer_event(p_req, c, 'registered');
    RETURN jsonb_build_object('status', 201, 'body', customer_json(c, true));
END $$;

CREATE FUNCTION cmd_update_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers := customer_for_update(p, a->>'id');
    v_tier text := coalesce(nullif(a->>'tier', ''), c.tier);
    v_owner text := CASE WHEN a ? 'account_owner' THEN nullif(a->>'account_owner', '') ELSE c.account_owner END;
BEGIN
    PERFORM customer_check(a, false);
    IF v_tier <> 'regular' AND v_owner IS NULL THEN
        PERFORM fail(400, 'validation', 'account_owner: a key or VIP customer needs a named account owner');
    END IF;
    PERFORM customer_add_phones(c.id, a);
    UPDATE customers SET
        name = coalesce(nullif(btrim(a->>'name'), ''), name),
        phones = ARRAY(SELECT DISTINCT x FROM unnest(phones || ARRAY(
                     SELECT norm_phone(y) FROM jsonb_array_elements_text(coalesce(a->'phones', '[]')) y)) x),
        address = CASE WHEN a ? 'address' THEN a->>'address' ELSE address END,
        consent = CASE WHEN a ? 'consent' THEN consent || a->'consent' ELSE consent END,
        tier = v_tier, account_owner = v_owner, updated_at = now()
    WHERE id = c.id RETURNING * INTO c;
    PERFORM audit_write(p, p_req, 'update', 'customer', c.id, jsonb_build_object('tier', c.tier));
    PERFORM customer_event(p_req, c, 'updated');
    RETURN jsonb_build_object('status', 200, 'body', customer_json(c, true));
END $$;

CREATE FUNCTION cmd_get_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p, p_req, 'read', 'customer', c.id, '{}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', customer_json(c, true));
END $$;

-- Customers by phone or name prefix, paged by id (`after`).
CREATE FUNCTION cmd_list_customers(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_phone text := norm_phone(a->>'phone');
    v_name text := lower(nullif(btrim(a->>'name'), ''));
    v_rows jsonb;
    v_n int;
BEGIN
    IF p->>'role' NOT IN ('admin', 'center') THEN
        PERFORM fail(403, 'forbidden', 'customers are read by admin and the centre desks only');
    END IF;
    SELECT coalesce(jsonb_agg(customer_json(c, false) ORDER BY c.id), '[]'), count(*)
        INTO v_rows, v_n
    FROM (SELECT * FROM customers c
          WHERE (v_phone IS NULL OR EXISTS (SELECT 1 FROM customer_phones cp
                     WHERE cp.customer_id = c.id AND cp.phone LIKE v_phone || '%'))
            AND (v_name IS NULL OR lower(c.name) LIKE v_name || '%')
            AND (a->>'after' IS NULL OR c.id > a->>'after')
            AND may_see_customer(p, c)
          ORDER BY c.id LIMIT v_limit) c;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'customers', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

CREATE FUNCTION cmd_list_customer_devices(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('devices',
        (SELECT coalesce(jsonb_agg(device_json(d, true) ORDER BY d.first_seen_at, d.device_key), '[]')
         FROM devices d WHERE d.customer_id = c.id)));
END $$;

-- A device by IMEI (or VIN), with its repair history at every centre.
CREATE FUNCTION cmd_get_device(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d devices;
BEGIN
    SELECT * INTO d FROM devices WHERE device_key = a->>'imei';
    IF NOT FOUND OR NOT may_see_device(p, d) THEN
        PERFORM fail(404, 'not_found', format('device %s not found', a->>'imei'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', device_json(d, true));
END $$;
