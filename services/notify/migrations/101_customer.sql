-- notify: telling the customer. Events that matter to the customer (ticket received with its
-- warranty decision, estimate waiting for consent, parts arrived, ready for pickup, callback
-- coming) become rows of the notification outbox, one per configured channel (sms, webhook),
-- with the text from a versioned zh-CN template. A phone that opted out gets a row in state
-- `suppressed` (nothing is sent); quiet hours hold a row until the morning. The sender
-- (deliver.c) posts due rows through the channel's adapter and records the answer here, with
-- the same retry and once-only rules as webhooks.

INSERT INTO settings(name, value) VALUES ('quiet_start_h', 21), ('quiet_end_h', 8)
ON CONFLICT (name) DO NOTHING;

-- Who to tell about a ticket: the customer's phone and the brand, from TicketOpened.
ALTER TABLE tickets ADD COLUMN phone text, ADD COLUMN brand text;

-- The channels this service was configured with (rewritten at every start).
CREATE TABLE channels (
    name    text PRIMARY KEY CHECK (name IN ('sms', 'webhook')),
    enabled boolean NOT NULL
);

-- Templates, versioned: a new version of a kind applies from its `effective_from` on; a
-- notification keeps the version it was written with. Variables are {{name}}.
CREATE TABLE templates (
    kind           text NOT NULL,
    version        int NOT NULL CHECK (version > 0),
    effective_from timestamptz NOT NULL DEFAULT '2020-01-01',
    body           text NOT NULL,
    PRIMARY KEY (kind, version)
);
INSERT INTO templates(kind, version, body) VALUES
    ('ticket_received', 1, '【售后服务】您的{{brand}}设备已受理，工单号{{ticket_id}}。三包判定：{{decision}}。查询进度请凭工单号及手机后四位。'),
    ('estimate_pending', 1, '【售后服务】工单{{ticket_id}}维修报价{{estimate_yuan}}元，需您同意后开始维修，请联系服务网点确认。'),
    ('parts_arrived', 1, '【售后服务】工单{{ticket_id}}所需配件已到位，我们正在为您维修。'),
    ('ready_for_pickup', 1, '【售后服务】工单{{ticket_id}}已维修完毕，请携带取机凭证到{{center}}服务网点取机。'),
    ('callback_coming', 1, '【售后服务】感谢您的信任，我们将于{{due_date}}致电回访工单{{ticket_id}}的服务情况。');

-- Events of other streams can reach notify before the ticket's TicketOpened (each stream is
-- consumed on its own): those for a ticket not seen yet wait here and are queued when it opens.
CREATE TABLE customer_waiting (
    ticket_id text NOT NULL,
    stream    text NOT NULL,
    sequence  bigint NOT NULL,
    PRIMARY KEY (stream, sequence)
);
CREATE INDEX customer_waiting_ticket ON customer_waiting(ticket_id);

CREATE TABLE opt_outs (
    phone      text PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    by_subject text,
    note       text
);

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    channel          text NOT NULL CHECK (channel IN ('sms', 'webhook')),
    kind             text NOT NULL,
    event_id         text NOT NULL,
    ticket_id        text,
    center           text,
    region           text,
    phone            text NOT NULL,
    template_version int NOT NULL,
    text             text NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts         int NOT NULL DEFAULT 0,
    last_status      int,
    last_error       text,
    next_at          timestamptz NOT NULL DEFAULT now(),
    held_for_quiet   boolean NOT NULL DEFAULT false,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, kind, event_id)
);
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'pending';
CREATE INDEX notifications_ticket ON notifications(ticket_id);

-- The first instant at or after t outside quiet hours (Asia/Shanghai; start = end: none).
CREATE FUNCTION after_quiet(t timestamptz) RETURNS timestamptz
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

CREATE FUNCTION fill_template(p_body text, v jsonb) RETURNS text
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

CREATE FUNCTION decision_text(p jsonb) RETURNS text
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
CREATE FUNCTION queue_customer(e events, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_kind text;
    v_vars jsonb;
    t tickets;
    tpl templates;
    v_text text;
    v_out boolean;
    v_at timestamptz;
BEGIN
    v_kind := CASE
        WHEN e.type = 'warranty.WarrantyDecided' THEN 'ticket_received'
        WHEN e.type = 'intake.TicketDiagnosed' AND coalesce((p->>'paid')::boolean, false)
             AND coalesce((p->>'estimate_cents')::bigint, 0) > 0 THEN 'estimate_pending'
        WHEN e.type = 'parts.PartsReserved' AND coalesce((p->>'complete')::boolean, false)
             THEN 'parts_arrived'
        WHEN e.type = 'intake.RepairCompleted' THEN 'ready_for_pickup'
        WHEN e.type = 'surveys.CallbackScheduled' THEN 'callback_coming'
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
    v_out := EXISTS (SELECT 1 FROM opt_outs WHERE phone = t.phone);
    v_at := after_quiet(now());
    INSERT INTO notifications(channel, kind, event_id, ticket_id, center, region, phone,
                              template_version, text, state, next_at, held_for_quiet)
    SELECT c.name, v_kind, e.stream || ':' || e.sequence, t.ticket_id, t.center, t.region, t.phone,
           tpl.version, v_text, CASE WHEN v_out THEN 'suppressed' ELSE 'pending' END,
           v_at, v_at > now()
      FROM channels c WHERE c.enabled
    ON CONFLICT (channel, kind, event_id) DO NOTHING;
END $$;

-- As 100_notify.sql, and the customer's notifications.
CREATE OR REPLACE FUNCTION on_event(p_stream text, p_sequence bigint, p_type text, p_occurred_ms bigint,
                                    p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(p->>'center', '');
    v_region text := nullif(p->>'region', '');
    e events;
BEGIN
    IF p_type = 'intake.TicketOpened' AND p->>'ticket_id' IS NOT NULL AND v_center IS NOT NULL THEN
        INSERT INTO tickets(ticket_id, center, region, phone, brand)
        VALUES (p->>'ticket_id', v_center, v_region, nullif(p->'customer'->>'phone', ''),
                p->'device'->>'brand')
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
    PERFORM queue_customer(e, p);
    IF p_type = 'intake.TicketOpened' THEN
        PERFORM queue_customer(w, w.payload)
           FROM events w JOIN customer_waiting c ON c.stream = w.stream AND c.sequence = w.sequence
          WHERE c.ticket_id = p->>'ticket_id';
        DELETE FROM customer_waiting WHERE ticket_id = p->>'ticket_id';
    END IF;
END $$;

-- ---- the sender's side -----------------------------------------------------------------------

-- Due notifications not in flight (p_busy holds "n:<id>" of those in flight).
CREATE FUNCTION due_notifications(p_limit int, p_busy text[]) RETURNS TABLE (
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
     ORDER BY n.next_at, n.id
     LIMIT p_limit
$$;

CREATE FUNCTION notification_done(p_id bigint, p_status int, p_error text) RETURNS void
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

-- ---- commands --------------------------------------------------------------------------------

CREATE FUNCTION cmd_list_notifications(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
CREATE FUNCTION cmd_opt_out(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE FUNCTION cmd_opt_in(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM opt_outs WHERE phone = a->>'phone';
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (p_principal, p_req, 'opt_in', 'phone', mask_phone(a->>'phone'), '{}');
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('phone', a->>'phone', 'opted_out', false));
END $$;
