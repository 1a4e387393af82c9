-- notify: integrators' webhooks and the pull feed of events.
--
-- The consumer (main.c) hands every event of the streams it follows to on_event() in the
-- transaction that advances the stream position, so each event is recorded once: a row of the
-- feed (`events`) and one durable delivery row per matching webhook (`deliveries`). The sender
-- (deliver.c) posts pending deliveries in order per webhook and stream and records each answer
-- here; a delivery acknowledged with a 2xx is never sent again.

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO settings(name, value) VALUES
    ('retry_base_ms', 1000), ('retry_max_s', 3600), ('max_attempts', 20);

CREATE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT value FROM settings WHERE name = p_name
$$;

CREATE FUNCTION ts_text(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- ---- scope and personal data (as the other services' reads) --------------------------------

-- Whether a reader of this role/site/region sees an event of centre p_center, region p_region.
-- An event with no centre (stock, periods) is for head office only: checks fail closed.
CREATE FUNCTION may_see(p_role text, p_site text, p_region text, p_center text, p_ev_region text)
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
CREATE FUNCTION redact(p_role text, j jsonb) RETURNS jsonb
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
CREATE FUNCTION type_matches(p_types text[], p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT 1 FROM unnest(p_types) t
                   WHERE t = '*' OR t = p_type
                      OR (right(t, 2) = '.*' AND split_part(p_type, '.', 1) = left(t, -2)))
$$;

-- ---- the events ------------------------------------------------------------------------------

-- Which centre and region a ticket belongs to, from intake's TicketOpened: events of other
-- streams that name only the ticket are scoped through it.
CREATE TABLE tickets (
    ticket_id text PRIMARY KEY,
    center    text NOT NULL,
    region    text
);

-- The feed: every event of the followed streams, once. `position` is the pull feed's cursor.
CREATE TABLE events (
    position    bigserial UNIQUE,
    stream      text NOT NULL,
    sequence    bigint NOT NULL,
    type        text NOT NULL,
    center      text,
    region      text,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    PRIMARY KEY (stream, sequence)
);
CREATE INDEX events_type ON events(type, position);

CREATE TABLE webhooks (
    id          text PRIMARY KEY,
    url         text NOT NULL,
    event_types text[] NOT NULL,
    secret      text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'reviewer', 'region', 'center')),
    center      text,
    region      text,
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'deleted')),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    CHECK ((role = 'center') = (center IS NOT NULL)),
    CHECK ((role = 'region') = (region IS NOT NULL))
);

-- One event to one webhook. `body` is the exact JSON posted (scoped and redacted when it was
-- queued); the sender signs it with a fresh timestamp at each attempt.
CREATE TABLE deliveries (
    id          bigserial PRIMARY KEY,
    webhook_id  text NOT NULL REFERENCES webhooks(id),
    stream      text NOT NULL,
    sequence    bigint NOT NULL,
    type        text NOT NULL,
    body        text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts    int NOT NULL DEFAULT 0,
    last_status int,
    last_error  text,
    next_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    redelivery  boolean NOT NULL DEFAULT false
);
CREATE INDEX deliveries_pending ON deliveries(webhook_id, stream, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, id);

-- Every attempt: the delivery log.
CREATE TABLE delivery_attempts (
    delivery_id bigint NOT NULL REFERENCES deliveries(id),
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      int NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE FUNCTION event_body(e events, p_role text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', e.stream || ':' || e.sequence, 'type', e.type, 'stream', e.stream,
        'sequence', e.sequence, 'occurred_at', ts_text(e.occurred_at),
        'center', e.center, 'region', e.region, 'data', redact(p_role, e.payload)))::text
$$;

-- The consumer's handler: record the event and queue its deliveries.
CREATE FUNCTION on_event(p_stream text, p_sequence bigint, p_type text, p_occurred_ms bigint,
                         p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(p->>'center', '');
    v_region text := nullif(p->>'region', '');
    e events;
BEGIN
    IF p_type = 'intake.TicketOpened' AND p->>'ticket_id' IS NOT NULL AND v_center IS NOT NULL THEN
        INSERT INTO tickets(ticket_id, center, region) VALUES (p->>'ticket_id', v_center, v_region)
        ON CONFLICT (ticket_id) DO NOTHING;
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
END $$;

-- ---- the sender's side -----------------------------------------------------------------------

-- The next delivery of each (webhook, stream) that is due: one at a time per pair keeps the
-- order. `p_busy` lists pairs ("webhook stream") the sender has in flight.
CREATE FUNCTION due_deliveries(p_limit int, p_busy text[]) RETURNS TABLE (
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
CREATE FUNCTION next_due_in() RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT greatest(extract(epoch FROM min(d.next_at) - now()), 0)::float8
      FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
     WHERE d.state = 'pending' AND w.state = 'active'
$$;

-- Record one attempt. A 2xx delivers; anything else retries with exponential back-off
-- (retry_base_ms doubling, at most retry_max_s) until max_attempts, then fails.
CREATE FUNCTION delivery_done(p_id bigint, p_status int, p_error text) RETURNS void
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

-- ---- commands --------------------------------------------------------------------------------

CREATE FUNCTION webhook_json(w webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', w.id, 'url', w.url, 'event_types', to_jsonb(w.event_types), 'role', w.role,
        'center', w.center, 'region', w.region, 'state', w.state, 'description', w.description,
        'created_at', ts_text(w.created_at), 'created_by', w.created_by,
        'pending', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'),
        'delivered', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'delivered'),
        'failed', (SELECT count(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'failed')))
$$;

CREATE FUNCTION require_admin(p_principal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'webhooks are managed by head office (admin)');
    END IF;
END $$;

-- Field checks (formats) are done in C before this runs.
CREATE FUNCTION cmd_create_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE FUNCTION cmd_list_webhooks(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM require_admin(p_principal);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'webhooks', coalesce((SELECT jsonb_agg(webhook_json(w) ORDER BY w.created_at, w.id)
                                FROM webhooks w WHERE w.state <> 'deleted'), '[]')));
END $$;

CREATE FUNCTION webhook_for(p_principal jsonb, p_id text) RETURNS webhooks
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

CREATE FUNCTION cmd_get_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', webhook_json(webhook_for(p_principal, a->>'id')));
END $$;

CREATE FUNCTION set_webhook_state(p_req text, p_principal jsonb, p_id text, p_from text, p_to text)
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

CREATE FUNCTION cmd_pause_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', 'active', 'paused') $$;
CREATE FUNCTION cmd_resume_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', 'paused', 'active') $$;
CREATE FUNCTION cmd_delete_webhook(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT set_webhook_state(p_req, p_principal, a->>'id', NULL, 'deleted') $$;

CREATE FUNCTION cmd_list_deliveries(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w webhooks := webhook_for(p_principal, a->>'id');
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

CREATE FUNCTION cmd_redeliver(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
CREATE FUNCTION cmd_list_events(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
