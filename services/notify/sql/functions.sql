-- notify: functions functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Whether a reader of this role/site/region sees an event of centre p_center, region p_region.
-- An event with no centre (stock, periods) is for head office only: checks fail closed.
CREATE OR REPLACE FUNCTION may_see(p_role text, p_site text, p_region text, p_center text, p_ev_region text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_role
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_ev_region IS NOT NULL AND p_region = p_ev_region
        WHEN 'center' THEN p_center IS NOT NULL AND p_site = p_center
        ELSE false END
$$;

-- The customer's phone and name are for roles that call customers (admin, center): others get
-- the phone masked and no name, wherever a `customer` object or a `customer_phone` appears at
-- the top of the payload.
CREATE OR REPLACE FUNCTION redact(p_role text, j jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_role IN ('admin', 'center') OR jsonb_typeof(j) <> 'object' THEN
        RETURN j;
    END IF;
    IF jsonb_typeof(j->'customer') = 'object' THEN
        j := jsonb_set(j, '{customer}', (j->'customer') - 'name' - 'phone'
            || CASE WHEN j->'customer'->>'phone' IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('phone', mask_phone(j->'customer'->>'phone')) END);
    END IF;
    IF j->>'customer_phone' IS NOT NULL THEN
        j := jsonb_set(j, '{customer_phone}', to_jsonb(mask_phone(j->>'customer_phone')));
    END IF;
    IF j ? 'customer_name' THEN
        j := j - 'customer_name';
    END IF;
    RETURN j;
END $$;

-- Whether an event type matches a subscription's list ("*", "intake.*", "intake.TicketClosed").
CREATE OR REPLACE FUNCTION type_matches(p_types text[], p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT 1 FROM unnest(p_types) t
                   WHERE t = '*' OR t = p_type
                      OR (right(t, 2) = '.*' AND split_part(p_type, '.', 1) = left(t, -2)))
$$;

CREATE OR REPLACE FUNCTION event_body(e events, p_role text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', e.stream || ':' || e.sequence, 'type', e.type, 'stream', e.stream,
        'sequence', e.sequence, 'occurred_at', ts_text(e.occurred_at),
        'center', e.center, 'region', e.region, 'data', redact(p_role, e.payload)))::text
$$;

-- As 100_notify.sql, and the customer's notifications.
CREATE OR REPLACE FUNCTION on_event(p_stream text, p_sequence bigint, p_type text, p_occurred_ms bigint,
                                    p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(p->>'center', '');
    v_region text := nullif(p->>'region', '');
    e events;
    v_tickets text[];
BEGIN
    -- An erased customer (docs/customers.md): its tickets' phone, the stored events' customer
    -- and the phone of its messages go; a message not sent yet is suppressed.
    IF p_type = 'intake.CustomerChanged' AND p->>'change' = 'erased' THEN
        v_tickets := ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'ticket_ids', '[]')));
        UPDATE tickets SET phone = NULL WHERE ticket_id = ANY (v_tickets) AND phone IS NOT NULL;
        UPDATE events SET payload = payload - 'customer' - 'customer_name' - 'customer_phone'
         WHERE payload->>'ticket_id' = ANY (v_tickets) AND payload ? 'customer';
        UPDATE notifications SET phone = '',
                                 state = CASE WHEN state = 'pending' THEN 'suppressed' ELSE state END
         WHERE ticket_id = ANY (v_tickets) AND channel = 'sms' AND phone <> '';
        DELETE FROM customer_waiting WHERE ticket_id = ANY (v_tickets);
    END IF;
    IF p_type = 'intake.TicketOpened' AND p->>'ticket_id' IS NOT NULL AND v_center IS NOT NULL THEN
        INSERT INTO tickets(ticket_id, center, region, phone, brand)
        VALUES (p->>'ticket_id', v_center, v_region, nullif(p->'customer'->>'phone', ''),
                p->'device'->>'brand')
        ON CONFLICT (ticket_id) DO NOTHING;
    END IF;
    -- The customer's tier (key and VIP customers' notifications go first).
    IF p_type = 'intake.CustomerLinked' AND p->>'ticket_id' IS NOT NULL THEN
        INSERT INTO ticket_tiers(ticket_id, customer_id, tier)
        VALUES (p->>'ticket_id', p->>'customer_id', coalesce(nullif(p->>'tier', ''), 'regular'))
        ON CONFLICT (ticket_id) DO UPDATE SET customer_id = excluded.customer_id, tier = excluded.tier;
    ELSIF p_type = 'intake.CustomerChanged' AND p->>'customer_id' IS NOT NULL THEN
        UPDATE ticket_tiers SET tier = coalesce(nullif(p->>'tier', ''), 'regular')
         WHERE customer_id = p->>'customer_id';
    END IF;
    IF v_center IS NULL AND p->>'ticket_id' IS NOT NULL THEN
        SELECT t.center, coalesce(v_region, t.region) INTO v_center, v_region
          FROM tickets t WHERE t.ticket_id = p->>'ticket_id';
    END IF;
    INSERT INTO events(stream, sequence, type, center, region, occurred_at, payload)
    VALUES (p_stream, p_sequence, p_type, v_center, v_region,
            CASE WHEN p_occurred_ms > 0 THEN to_timestamp(p_occurred_ms / 1000.0) ELSE now() END, p)
    ON CONFLICT (stream, sequence) DO NOTHING
    RETURNING * INTO e;
    IF e.position IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO deliveries(webhook_id, stream, sequence, type, body)
    SELECT w.id, e.stream, e.sequence, e.type, event_body(e, w.role)
      FROM webhooks w
     WHERE w.state <> 'deleted' AND type_matches(w.event_types, e.type)
       AND may_see(w.role, w.center, w.region, e.center, e.region)
     ORDER BY w.id;
    PERFORM queue_customer(e, p);
    IF p_type = 'intake.TicketOpened' THEN
        PERFORM queue_customer(w, w.payload)
           FROM events w JOIN customer_waiting c ON c.stream = w.stream AND c.sequence = w.sequence
          WHERE c.ticket_id = p->>'ticket_id';
        DELETE FROM customer_waiting WHERE ticket_id = p->>'ticket_id';
    END IF;
END $$;

-- A batch of one stream's events, as the consumer collects it (decision 36): a JSON array of
-- {seq, type, occ, payload} in sequence order. The same effects as on_event() for each, in a few
-- statements for the whole batch instead of a function call per event:
--   1. the tickets of the batch's TicketOpened (before the feed rows, so that a later event of
--      the batch that names only the ticket is scoped through it, as one by one);
--   2. the customer tiers of its CustomerLinked (the last one of a ticket wins, as one by one);
--   3. the feed rows, one INSERT in sequence order (positions follow the sequence), and the
--      webhooks' delivery rows in the order one by one would give them;
--   4. the customer's notifications: first those waiting for a ticket the batch opened, then
--      the batch's own, in order.
-- Customer tier changes apply in order with the links (a loop over those two types only); a
-- batch with an erasure goes event by event through on_event() (rare, and it rewrites what the
-- batch's other events would read).
CREATE OR REPLACE FUNCTION on_events(p_stream text, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_rows events[];
    v_opened text[];
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p) x
                WHERE x->>'type' = 'intake.CustomerChanged' AND x->'payload'->>'change' = 'erased') THEN
        FOR r IN SELECT * FROM jsonb_to_recordset(p) AS x(seq bigint, type text, occ bigint, payload jsonb)
                  ORDER BY x.seq LOOP
            PERFORM on_event(p_stream, r.seq, r.type, r.occ, r.payload);
        END LOOP;
        RETURN;
    END IF;
    SELECT array_agg(x.payload->>'ticket_id') INTO v_opened
      FROM jsonb_to_recordset(p) AS x(type text, payload jsonb)
     WHERE x.type = 'intake.TicketOpened' AND x.payload->>'ticket_id' IS NOT NULL
       AND nullif(x.payload->>'center', '') IS NOT NULL;
    IF v_opened IS NOT NULL THEN
        INSERT INTO tickets(ticket_id, center, region, phone, brand)
        SELECT DISTINCT ON (x.payload->>'ticket_id')
               x.payload->>'ticket_id', x.payload->>'center', nullif(x.payload->>'region', ''),
               nullif(x.payload->'customer'->>'phone', ''), x.payload->'device'->>'brand'
          FROM jsonb_to_recordset(p) AS x(seq bigint, type text, payload jsonb)
         WHERE x.type = 'intake.TicketOpened' AND x.payload->>'ticket_id' IS NOT NULL
           AND nullif(x.payload->>'center', '') IS NOT NULL
         ORDER BY x.payload->>'ticket_id', x.seq
        ON CONFLICT (ticket_id) DO NOTHING;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p) x
                    WHERE x->>'type' = 'intake.CustomerChanged' AND x->'payload'->>'customer_id' IS NOT NULL) THEN
        INSERT INTO ticket_tiers(ticket_id, customer_id, tier)
        SELECT DISTINCT ON (x.payload->>'ticket_id')
               x.payload->>'ticket_id', x.payload->>'customer_id',
               coalesce(nullif(x.payload->>'tier', ''), 'regular')
          FROM jsonb_to_recordset(p) AS x(seq bigint, type text, payload jsonb)
         WHERE x.type = 'intake.CustomerLinked' AND x.payload->>'ticket_id' IS NOT NULL
         ORDER BY x.payload->>'ticket_id', x.seq DESC
        ON CONFLICT (ticket_id) DO UPDATE SET customer_id = excluded.customer_id, tier = excluded.tier;
    ELSE
        -- links and tier changes in their order (a change applies to the links before it)
        FOR r IN SELECT x.type, x.payload FROM jsonb_to_recordset(p) AS x(seq bigint, type text, payload jsonb)
                  WHERE (x.type = 'intake.CustomerLinked' AND x.payload->>'ticket_id' IS NOT NULL)
                     OR (x.type = 'intake.CustomerChanged' AND x.payload->>'customer_id' IS NOT NULL)
                  ORDER BY x.seq LOOP
            IF r.type = 'intake.CustomerLinked' THEN
                INSERT INTO ticket_tiers(ticket_id, customer_id, tier)
                VALUES (r.payload->>'ticket_id', r.payload->>'customer_id',
                        coalesce(nullif(r.payload->>'tier', ''), 'regular'))
                ON CONFLICT (ticket_id) DO UPDATE SET customer_id = excluded.customer_id, tier = excluded.tier;
            ELSE
                UPDATE ticket_tiers SET tier = coalesce(nullif(r.payload->>'tier', ''), 'regular')
                 WHERE customer_id = r.payload->>'customer_id';
            END IF;
        END LOOP;
    END IF;
    WITH ins AS (
        INSERT INTO events(stream, sequence, type, center, region, occurred_at, payload)
        SELECT p_stream, x.seq, x.type,
               CASE WHEN nullif(x.payload->>'center', '') IS NOT NULL THEN x.payload->>'center'
                    WHEN x.payload->>'ticket_id' IS NOT NULL THEN t.center END,
               CASE WHEN nullif(x.payload->>'center', '') IS NOT NULL
                         OR x.payload->>'ticket_id' IS NULL THEN nullif(x.payload->>'region', '')
                    WHEN t.ticket_id IS NOT NULL THEN coalesce(nullif(x.payload->>'region', ''), t.region) END,
               CASE WHEN x.occ > 0 THEN to_timestamp(x.occ / 1000.0) ELSE now() END, x.payload
          FROM jsonb_to_recordset(p) AS x(seq bigint, type text, occ bigint, payload jsonb)
          LEFT JOIN tickets t ON nullif(x.payload->>'center', '') IS NULL
                             AND t.ticket_id = x.payload->>'ticket_id'
         ORDER BY x.seq
        ON CONFLICT (stream, sequence) DO NOTHING
        RETURNING *)
    SELECT array_agg(ROW(ins.position, ins.stream, ins.sequence, ins.type, ins.center, ins.region,
                         ins.occurred_at, ins.payload)::events ORDER BY ins.position)
      INTO v_rows FROM ins;
    IF v_rows IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO deliveries(webhook_id, stream, sequence, type, body)
    SELECT w.id, e.stream, e.sequence, e.type, event_body(e, w.role)
      FROM unnest(v_rows) e, webhooks w
     WHERE w.state <> 'deleted' AND type_matches(w.event_types, e.type)
       AND may_see(w.role, w.center, w.region, e.center, e.region)
     ORDER BY e.position, w.id;
    IF v_opened IS NOT NULL THEN
        FOR r IN SELECT w AS e FROM events w JOIN customer_waiting c
                   ON c.stream = w.stream AND c.sequence = w.sequence
                  WHERE c.ticket_id = ANY (v_opened)
                  ORDER BY w.position LOOP
            PERFORM queue_customer(r.e, (r.e).payload);
        END LOOP;
        DELETE FROM customer_waiting WHERE ticket_id = ANY (v_opened);
    END IF;
    FOR r IN SELECT e FROM unnest(v_rows) e
              WHERE e.type IN ('warranty.WarrantyDecided', 'intake.TicketDiagnosed', 'parts.PartsReserved',
                               'intake.RepairCompleted', 'surveys.CallbackScheduled',
                               'surveys.MaintenanceDue')
              ORDER BY e.position LOOP
        PERFORM queue_customer(r.e, (r.e).payload);
    END LOOP;
END $$;

-- The next delivery of each (webhook, stream) that is due: one at a time per pair keeps the
-- order. `p_busy` lists pairs ("webhook stream") the sender has in flight.
CREATE OR REPLACE FUNCTION due_deliveries(p_limit int, p_busy text[]) RETURNS TABLE (
    id bigint, url text, secret text, webhook_id text, event_id text, type text, body text,
    attempts int)
LANGUAGE sql STABLE AS $$
    SELECT h.id, w.url, w.secret, w.id, h.stream || ':' || h.sequence, h.type, h.body, h.attempts
      FROM (SELECT DISTINCT ON (d.webhook_id, d.stream) d.*
              FROM deliveries d
             WHERE d.state = 'pending'
             ORDER BY d.webhook_id, d.stream, d.id) h
      JOIN webhooks w ON w.id = h.webhook_id
     WHERE w.state = 'active' AND h.next_at <= now()
       AND NOT (h.webhook_id || ' ' || h.stream = ANY (coalesce(p_busy, '{}')))
     ORDER BY h.next_at, h.id
     LIMIT p_limit
$$;

-- Seconds until the earliest pending delivery of an active webhook is due (NULL: none).
CREATE OR REPLACE FUNCTION next_due_in() RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT greatest(extract(epoch FROM min(d.next_at) - now()), 0)::float8
      FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
     WHERE d.state = 'pending' AND w.state = 'active'
$$;

-- Record one attempt. A 2xx delivers; anything else retries with exponential back-off
-- (retry_base_ms doubling, at most retry_max_s) until max_attempts, then fails.
CREATE OR REPLACE FUNCTION delivery_done(p_id bigint, p_status int, p_error text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d deliveries;
    v_wait float8;
BEGIN
    SELECT * INTO d FROM deliveries WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR d.state <> 'pending' THEN
        RETURN;
    END IF;
    INSERT INTO delivery_attempts(delivery_id, attempt, status, error)
    VALUES (p_id, d.attempts + 1, p_status, left(p_error, 300));
    IF p_status BETWEEN 200 AND 299 THEN
        UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = p_status,
               last_error = NULL, delivered_at = now()
         WHERE id = p_id;
        RETURN;
    END IF;
    v_wait := least(setting('retry_base_ms') / 1000.0 * power(2, least(d.attempts, 30)),
                    setting('retry_max_s'));
    UPDATE deliveries SET attempts = attempts + 1, last_status = p_status,
           last_error = left(p_error, 300),
           state = CASE WHEN attempts + 1 >= setting('max_attempts') THEN 'failed' ELSE 'pending' END,
           next_at = now() + make_interval(secs => v_wait)
     WHERE id = p_id;
END $$;

CREATE OR REPLACE FUNCTION webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', w.id, 'url', w.url, 'event_types', to_jsonb(w.event_types), 'role', w.role,
        'center', w.center, 'region', w.region, 'state', w.state, 'description', w.description,
        'created_at', ts_text(w.created_at), 'created_by', w.created_by,
        'pending', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'),
        'delivered', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'delivered'),
        'failed', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'failed')))
$$;

CREATE OR REPLACE FUNCTION require_admin(p_principal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'webhooks are managed by head office (admin)');
    END IF;
END $$;

-- Field checks (formats) are done in C before this runs.
CREATE OR REPLACE FUNCTION cmd_create_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
    v_role text := coalesce(nullif(a->>'role', ''), 'admin');
BEGIN
    PERFORM require_admin(p_principal);
    INSERT INTO webhooks(id, url, event_types, secret, role, center, region, description, created_by)
    VALUES ('wh_' || substr(md5(p_req || clock_timestamp()::text), 1, 16), a->>'url',
            ARRAY(SELECT jsonb_array_elements_text(a->'event_types')), a->>'secret', v_role,
            CASE WHEN v_role = 'center' THEN a->>'center' END,
            CASE WHEN v_role = 'region' THEN a->>'region' END,
            nullif(a->>'description', ''), coalesce(p_principal->>'subject', 'unknown'))
    RETURNING * INTO w;
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, 'create_webhook', 'webhook', w.id,
            jsonb_build_object('url', w.url, 'role', w.role));
    RETURN jsonb_build_object('status', 201, 'body', webhook_json(w));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_webhooks(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM require_admin(p_principal);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'webhooks', coalesce((SELECT jsonb_agg(webhook_json(w) ORDER BY w.created_at, w.id)
                                FROM webhooks w WHERE w.state <> 'deleted'), '[]')));
END $$;

CREATE OR REPLACE FUNCTION webhook_for(p_principal jsonb, p_id text) RETURNS webhooks
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    PERFORM require_admin(p_principal);
    SELECT * INTO w FROM webhooks WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR w.state = 'deleted' THEN
        PERFORM fail(404, 'not_found', 'no webhook ' || coalesce(p_id, ''));
    END IF;
    RETURN w;
END $$;

-- The same for a read: no row lock (reads run in read-only transactions on the read connection,
-- decision 31, where FOR UPDATE is refused; a read need not hold writers back).
CREATE OR REPLACE FUNCTION webhook_seen(p_principal jsonb, p_id text) RETURNS webhooks
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w webhooks;
BEGIN
    PERFORM require_admin(p_principal);
    SELECT * INTO w FROM webhooks WHERE id = p_id;
    IF NOT FOUND OR w.state = 'deleted' THEN
        PERFORM fail(404, 'not_found', 'no webhook ' || coalesce(p_id, ''));
    END IF;
    RETURN w;
END $$;

CREATE OR REPLACE FUNCTION cmd_get_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', webhook_json(webhook_seen(p_principal, a->>'id')));
END $$;

CREATE OR REPLACE FUNCTION set_webhook_state(p_req text, p_principal jsonb, p_id text, p_from text, p_to text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    w webhooks := webhook_for(p_principal, p_id);
BEGIN
    IF p_from IS NOT NULL AND w.state <> p_from THEN
        PERFORM fail(409, 'wrong_state', format('the webhook is %s, not %s', w.state, p_from));
    END IF;
    UPDATE webhooks SET state = p_to WHERE id = p_id RETURNING * INTO w;
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, p_to || '_webhook', 'webhook', w.id, '{}');
    RETURN jsonb_build_object('status', 200, 'body', webhook_json(w));
END $$;

CREATE OR REPLACE FUNCTION cmd_pause_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', 'active', 'paused') $$;

CREATE OR REPLACE FUNCTION cmd_resume_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', 'paused', 'active') $$;

CREATE OR REPLACE FUNCTION cmd_delete_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', NULL, 'deleted') $$;

CREATE OR REPLACE FUNCTION cmd_list_deliveries(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks := webhook_seen(p_principal, a->>'id');
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 500);
    v_after bigint;
    v_rows jsonb;
    v_n int;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        IF a->>'after' !~ '^[0-9]{1,18}$' THEN
            PERFORM fail(400, 'bad_cursor', 'after: not a cursor of this list');
        END IF;
        v_after := (a->>'after')::bigint;
    END IF;
    IF a->>'state' IS NOT NULL AND a->>'state' NOT IN ('pending', 'delivered', 'failed') THEN
        PERFORM fail(400, 'invalid_field', 'state: one of pending, delivered, failed');
    END IF;
    WITH page AS (
        SELECT d.* FROM deliveries d
         WHERE d.webhook_id = w.id AND (a->>'state' IS NULL OR d.state = a->>'state')
           AND (v_after IS NULL OR d.id < v_after)
         ORDER BY d.id DESC LIMIT v_limit)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', p.id, 'webhook_id', p.webhook_id, 'event_id', p.stream || ':' || p.sequence,
               'stream', p.stream, 'sequence', p.sequence, 'type', p.type, 'state', p.state,
               'attempts', p.attempts, 'last_status', p.last_status, 'last_error', p.last_error,
               'next_attempt_at', CASE WHEN p.state = 'pending' THEN ts_text(p.next_at) END,
               'delivered_at', ts_text(p.delivered_at), 'created_at', ts_text(p.created_at),
               'redelivery', p.redelivery)) ORDER BY p.id DESC), '[]'), count(*)
      INTO v_rows, v_n FROM page p;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_strip_nulls(
        jsonb_build_object('deliveries', v_rows,
                           'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

CREATE OR REPLACE FUNCTION cmd_redeliver(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks := webhook_for(p_principal, a->>'id');
    v_n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events WHERE stream = a->>'stream') THEN
        PERFORM fail(422, 'unknown_stream', 'stream: no events of ' || coalesce(a->>'stream', ''));
    END IF;
    INSERT INTO deliveries(webhook_id, stream, sequence, type, body, redelivery)
    SELECT w.id, e.stream, e.sequence, e.type, event_body(e, w.role), true
      FROM events e
     WHERE e.stream = a->>'stream' AND e.sequence >= (a->>'from_sequence')::bigint
       AND type_matches(w.event_types, e.type)
       AND may_see(w.role, w.center, w.region, e.center, e.region)
     ORDER BY e.sequence;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, 'redeliver', 'webhook', w.id,
            jsonb_build_object('stream', a->>'stream', 'from_sequence', a->'from_sequence',
                               'queued', v_n));
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('webhook_id', w.id, 'queued', v_n));
END $$;

-- The pull feed, scoped and redacted for the caller like its reads. Not stored.
CREATE OR REPLACE FUNCTION cmd_list_events(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 1000);
    v_after bigint := coalesce((a->>'after')::bigint, 0);
    v_role text := coalesce(p_principal->>'role', '');
    v_rows jsonb;
    v_last bigint;
    v_head bigint;
BEGIN
    IF v_role NOT IN ('admin', 'reviewer', 'region', 'center', 'service') THEN
        PERFORM fail(403, 'forbidden', 'the event feed is for head office, regions and centres');
    END IF;
    IF v_after < 0 THEN
        PERFORM fail(400, 'invalid_field', 'after: a position (0 or more)');
    END IF;
    WITH page AS (
        SELECT e.* FROM events e
         WHERE e.position > v_after
           AND may_see(v_role, p_principal->>'site', p_principal->>'region', e.center, e.region)
           AND (coalesce(a->>'type', '') = '' OR type_matches(ARRAY[a->>'type'], e.type))
         ORDER BY e.position LIMIT v_limit)
    SELECT coalesce(jsonb_agg(jsonb_build_object('position', p.position)
                              || event_body(p, v_role)::jsonb ORDER BY p.position), '[]'),
           max(p.position)
      INTO v_rows, v_last FROM page p;
    -- With nothing visible left, the cursor moves to the head (skipping others' events).
    SELECT max(position) INTO v_head FROM events;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('json',
        jsonb_build_object('events', v_rows,
                           'next', coalesce(v_last, greatest(v_after, coalesce(v_head, 0))))::text));
END $$;

-- The first instant at or after t outside quiet hours (Asia/Shanghai; start = end: none).
CREATE OR REPLACE FUNCTION after_quiet(t timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s int := setting('quiet_start_h');
    e int := setting('quiet_end_h');
    l timestamp := t AT TIME ZONE 'Asia/Shanghai';
    h int := extract(hour FROM l);
BEGIN
    IF s IS NULL OR e IS NULL OR s = e THEN
        RETURN t;
    END IF;
    IF s > e THEN                       -- e.g. 21 -> 8, across midnight
        IF h >= s THEN
            RETURN (date_trunc('day', l) + interval '1 day' + make_interval(hours => e))
                   AT TIME ZONE 'Asia/Shanghai';
        ELSIF h < e THEN
            RETURN (date_trunc('day', l) + make_interval(hours => e)) AT TIME ZONE 'Asia/Shanghai';
        END IF;
        RETURN t;
    END IF;
    IF h >= s AND h < e THEN            -- e.g. 12 -> 14, within a day
        RETURN (date_trunc('day', l) + make_interval(hours => e)) AT TIME ZONE 'Asia/Shanghai';
    END IF;
    RETURN t;
END $$;

CREATE OR REPLACE FUNCTION fill_template(p_body text, v jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    r text := p_body;
BEGIN
    FOR k IN SELECT jsonb_object_keys(v) LOOP
        r := replace(r, '{{' || k || '}}', coalesce(v->>k, ''));
    END LOOP;
    RETURN regexp_replace(r, '\{\{[a-z_]+\}\}', '', 'g');
END $$;

CREATE OR REPLACE FUNCTION decision_text(p jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p->>'status' = 'awaiting_review' THEN '待复核，复核后另行通知'
        WHEN p->>'remedy' = 'refund' THEN '符合退货条件'
        WHEN p->>'remedy' = 'exchange' THEN '符合换货条件'
        WHEN p->>'remedy' = 'repair' AND coalesce((p->>'free')::boolean, false) THEN '保修期内免费维修'
        WHEN p->>'remedy' = 'repair' THEN '付费维修'
        ELSE coalesce(p->>'remedy', '已受理') END
$$;

-- Queue the customer's notification of event e, if it is one that matters to the customer.
CREATE OR REPLACE FUNCTION queue_customer(e events, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_kind text;
    v_vars jsonb;
    t tickets;
    tpl templates;
    v_text text;
    v_out boolean;
    v_at timestamptz;
    v_url text;
BEGIN
    v_kind := CASE
        WHEN e.type = 'warranty.WarrantyDecided' THEN 'ticket_received'
        WHEN e.type = 'intake.TicketDiagnosed' AND coalesce((p->>'paid')::boolean, false)
             AND coalesce((p->>'estimate_cents')::bigint, 0) > 0 THEN 'estimate_pending'
        WHEN e.type = 'parts.PartsReserved' AND coalesce((p->>'complete')::boolean, false)
             THEN 'parts_arrived'
        WHEN e.type = 'intake.RepairCompleted' THEN 'ready_for_pickup'
        WHEN e.type = 'surveys.CallbackScheduled' THEN 'callback_coming'
        WHEN e.type = 'surveys.MaintenanceDue' THEN 'maintenance_reminder'
    END;
    IF v_kind IS NULL OR p->>'ticket_id' IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO t FROM tickets WHERE ticket_id = p->>'ticket_id';
    IF NOT FOUND THEN                    -- its TicketOpened is still on its way
        INSERT INTO customer_waiting(ticket_id, stream, sequence)
        VALUES (p->>'ticket_id', e.stream, e.sequence) ON CONFLICT DO NOTHING;
        RETURN;
    END IF;
    IF t.phone IS NULL THEN
        RETURN;                          -- no phone: nobody to tell
    END IF;
    IF NOT EXISTS (SELECT 1 FROM channels WHERE enabled) THEN
        RETURN;                          -- no channel configured: the INSERT below would add none
    END IF;
    SELECT * INTO tpl FROM templates
     WHERE kind = v_kind AND effective_from <= now()
     ORDER BY version DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_vars := jsonb_build_object(
        'ticket_id', t.ticket_id, 'brand', coalesce(t.brand, ''), 'center', t.center,
        'decision', decision_text(p),
        'estimate_yuan', to_char(coalesce((p->>'estimate_cents')::bigint, 0) / 100.0, 'FM999999990.00'),
        'due_date', to_char((p->>'due_at')::timestamptz AT TIME ZONE 'Asia/Shanghai', 'FMMM"月"FMDD"日"'));
    v_text := fill_template(tpl.body, v_vars);
    -- The status page's address (setting status_page_url; empty: omitted), with the ticket
    -- number filled in, on every notification about the ticket's progress.
    SELECT value INTO v_url FROM text_settings WHERE name = 'status_page_url';
    IF coalesce(v_url, '') <> '' AND v_kind <> 'callback_coming' THEN
        v_text := v_text || '进度查询：' || v_url
                  || CASE WHEN position('?' IN v_url) > 0 THEN '&' ELSE '?' END || 't=' || t.ticket_id;
    END IF;
    v_out := EXISTS (SELECT 1 FROM opt_outs WHERE phone = t.phone);
    v_at := after_quiet(now());
    INSERT INTO notifications(channel, kind, event_id, ticket_id, center, region, phone,
                              template_version, text, state, next_at, held_for_quiet, priority)
    SELECT c.name, v_kind, e.stream || ':' || e.sequence, t.ticket_id, t.center, t.region, t.phone,
           tpl.version, v_text, CASE WHEN v_out THEN 'suppressed' ELSE 'pending' END,
           v_at, v_at > now(),
           CASE WHEN EXISTS (SELECT 1 FROM ticket_tiers k WHERE k.ticket_id = t.ticket_id
                                                      AND k.tier IN ('key', 'vip')) THEN 1 ELSE 0 END
      FROM channels c WHERE c.enabled
    ON CONFLICT (channel, kind, event_id) DO NOTHING;
END $$;

-- Due notifications not in flight (p_busy holds "n:<id>" of those in flight).
CREATE OR REPLACE FUNCTION due_notifications(p_limit int, p_busy text[]) RETURNS TABLE (
    id bigint, channel text, body text)
LANGUAGE sql STABLE AS $$
    SELECT n.id, n.channel,
           CASE n.channel
               WHEN 'sms' THEN jsonb_build_object('to', n.phone, 'text', n.text,
                                                  'ref', 'ntf-' || n.id)::text
               ELSE jsonb_build_object('id', 'ntf-' || n.id, 'kind', n.kind, 'ticket_id', n.ticket_id,
                                       'center', n.center, 'phone', n.phone, 'text', n.text,
                                       'template_version', n.template_version,
                                       'event_id', n.event_id)::text END
      FROM notifications n JOIN channels c ON c.name = n.channel AND c.enabled
     WHERE n.state = 'pending' AND n.next_at <= now()
       AND NOT ('n:' || n.id = ANY (coalesce(p_busy, '{}')))
     ORDER BY n.priority DESC, n.next_at, n.id   -- key and VIP customers first (issue 19.8)
     LIMIT p_limit
$$;

CREATE OR REPLACE FUNCTION notification_done(p_id bigint, p_status int, p_error text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n notifications;
    v_wait float8;
BEGIN
    SELECT * INTO n FROM notifications WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR n.state <> 'pending' THEN
        RETURN;
    END IF;
    IF p_status BETWEEN 200 AND 299 THEN
        UPDATE notifications SET state = 'sent', attempts = attempts + 1, last_status = p_status,
               last_error = NULL, sent_at = now()
         WHERE id = p_id;
        RETURN;
    END IF;
    v_wait := least(setting('retry_base_ms') / 1000.0 * power(2, least(n.attempts, 30)),
                    setting('retry_max_s'));
    UPDATE notifications SET attempts = attempts + 1, last_status = p_status,
           last_error = left(p_error, 300),
           state = CASE WHEN attempts + 1 >= setting('max_attempts') THEN 'failed' ELSE 'pending' END,
           next_at = after_quiet(now() + make_interval(secs => v_wait))
     WHERE id = p_id;
END $$;

CREATE OR REPLACE FUNCTION cmd_list_notifications(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_role text := coalesce(p_principal->>'role', '');
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 500);
    v_after bigint;
    v_rows jsonb;
    v_n int;
BEGIN
    IF v_role NOT IN ('admin', 'region', 'center', 'reviewer', 'service') THEN
        PERFORM fail(403, 'forbidden', 'the notification outbox is for head office, regions and centres');
    END IF;
    IF coalesce(a->>'after', '') <> '' THEN
        IF a->>'after' !~ '^[0-9]{1,18}$' THEN
            PERFORM fail(400, 'bad_cursor', 'after: not a cursor of this list');
        END IF;
        v_after := (a->>'after')::bigint;
    END IF;
    WITH page AS (
        SELECT n.* FROM notifications n
         WHERE may_see(v_role, p_principal->>'site', p_principal->>'region', n.center, n.region)
           AND (a->>'ticket_id' IS NULL OR n.ticket_id = a->>'ticket_id')
           AND (a->>'state' IS NULL OR n.state = a->>'state')
           AND (a->>'channel' IS NULL OR n.channel = a->>'channel')
           AND (v_after IS NULL OR n.id < v_after)
         ORDER BY n.id DESC LIMIT v_limit)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', p.id, 'channel', p.channel, 'kind', p.kind, 'event_id', p.event_id,
               'ticket_id', p.ticket_id, 'center', p.center,
               'phone', CASE WHEN v_role IN ('admin', 'center') THEN p.phone ELSE mask_phone(p.phone) END,
               'template_version', p.template_version, 'text', p.text, 'state', p.state,
               'attempts', p.attempts, 'last_status', p.last_status, 'last_error', p.last_error,
               'next_attempt_at', CASE WHEN p.state = 'pending' THEN ts_text(p.next_at) END,
               'held_for_quiet_hours', p.held_for_quiet AND p.state = 'pending' AND p.next_at > now(),
               'sent_at', ts_text(p.sent_at), 'created_at', ts_text(p.created_at)))
               ORDER BY p.id DESC), '[]'), count(*)
      INTO v_rows, v_n FROM page p;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_strip_nulls(
        jsonb_build_object('notifications', v_rows,
                           'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

-- A customer asks not to be told (or to be told again). Desks record it for their customers.
CREATE OR REPLACE FUNCTION cmd_opt_out(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO opt_outs(phone, by_subject, note)
    VALUES (a->>'phone', p_principal->>'subject', nullif(a->>'note', ''))
    ON CONFLICT (phone) DO NOTHING;
    -- what is still waiting for this phone is not sent either
    UPDATE notifications SET state = 'suppressed' WHERE phone = a->>'phone' AND state = 'pending';
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, 'opt_out', 'phone', mask_phone(a->>'phone'), '{}');
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('phone', a->>'phone', 'opted_out', true));
END $$;

CREATE OR REPLACE FUNCTION cmd_opt_in(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM opt_outs WHERE phone = a->>'phone';
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, 'opt_in', 'phone', mask_phone(a->>'phone'), '{}');
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('phone', a->>'phone', 'opted_out', false));
END $$;
