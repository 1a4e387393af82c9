-- intake: the hotline's call log (issue 19.1; decision record 0014 says why it lives in intake).
-- Every inbound or outbound call is recorded against a customer phone, a ticket and/or a
-- complaint. A repair request opens its ticket in the same transaction (cmd_open_ticket, with
-- the same validation a front desk gets); a complaint is published as intake.CallLogged with
-- the complaint's cause and description, surveys opens it (exactly once, by the event runtime)
-- and answers surveys.CallComplaintOpened, which links the complaint to the call here.

CREATE SEQUENCE call_no;

CREATE TABLE calls (
    id              text PRIMARY KEY,
    direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel         text NOT NULL CHECK (channel IN ('phone', 'hotline_400', 'hotline_12315', 'wechat', 'online', 'other')),
    category        text NOT NULL CHECK (category IN ('consultation', 'repair_request', 'complaint',
                                                      'suggestion', 'praise', 'other')),
    outcome         text NOT NULL CHECK (outcome IN ('answered', 'transferred', 'callback_needed')),
    customer_name   text,
    customer_phone  text,
    ticket_id       text REFERENCES tickets(id),
    complaint_id    text,
    complaint       jsonb,            -- {cause, description}: the complaint asked of surveys
    center          text REFERENCES centers(code),
    region          text REFERENCES regions(code),
    summary         text NOT NULL,
    agent           text NOT NULL,    -- who took (or made) the call: the principal
    duration_s      int NOT NULL CHECK (duration_s BETWEEN 0 AND 86400),
    started_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    request_id      text
);
CREATE INDEX calls_started ON calls (started_at DESC, id DESC);
CREATE INDEX calls_phone ON calls (customer_phone);
CREATE INDEX calls_ticket ON calls (ticket_id);

CREATE FUNCTION call_json(c calls, p_mask boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'direction', c.direction, 'channel', c.channel, 'category', c.category,
        'outcome', c.outcome, 'customer_name', c.customer_name,
        'customer_phone', CASE WHEN p_mask THEN mask_phone(c.customer_phone) ELSE c.customer_phone END,
        'ticket_id', c.ticket_id, 'complaint_id', c.complaint_id,
        'complaint_pending', c.complaint IS NOT NULL AND c.complaint_id IS NULL,
        'center', c.center, 'region', c.region, 'summary', c.summary, 'agent', c.agent,
        'duration_s', c.duration_s,
        'started_at', to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'recorded_at', to_char(c.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
$$;

-- POST /v1/calls. `a` is validated field by field in C (services/intake/main.c); here: the
-- references (ticket, complaint, centre) and the one-step ticket.
CREATE FUNCTION cmd_record_call(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    c calls;
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_ticket text := nullif(a->>'ticket_id', '');
    v_name text := nullif(a->'customer'->>'name', '');
    v_phone text := nullif(a->'customer'->>'phone', '');
    v_open jsonb;
BEGIN
    IF v_ticket IS NOT NULL THEN
        SELECT * INTO t FROM tickets WHERE id = v_ticket;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_ticket', format('ticket_id: ticket %s does not exist', v_ticket));
        ELSIF NOT may_see(p_principal, t.center, t.region) THEN
            PERFORM fail(404, 'not_found', format('ticket %s not found', v_ticket));
        END IF;
    END IF;
    IF a->'ticket' IS NOT NULL THEN
        -- a repair request: the ticket opens now, in this transaction (a refusal refuses the call)
        v_open := cmd_open_ticket(p_req, p_principal, a->'ticket');
        SELECT * INTO t FROM tickets WHERE id = v_open->'body'->>'id';
        v_ticket := t.id;
    END IF;
    IF nullif(a->>'complaint_id', '') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tickets x WHERE (a->>'complaint_id') = ANY (x.complaints)
                                                 AND may_see(p_principal, x.center, x.region))
       AND NOT EXISTS (SELECT 1 FROM calls x WHERE x.complaint_id = a->>'complaint_id'
                                               AND (x.center IS NULL AND p_principal->>'role' = 'admin'
                                                    OR may_see(p_principal, x.center, x.region))) THEN
        PERFORM fail(422, 'unknown_complaint',
                     format('complaint_id: complaint %s is not known here', a->>'complaint_id'));
    END IF;
    IF v_ticket IS NULL AND nullif(a->>'complaint_id', '') IS NOT NULL THEN
        -- a call about a complaint of a ticket is about that ticket (and its customer)
        SELECT * INTO t FROM tickets x WHERE (a->>'complaint_id') = ANY (x.complaints) LIMIT 1;
        IF FOUND THEN
            v_ticket := t.id;
        ELSE
            SELECT coalesce(v_name, x.customer_name), coalesce(v_phone, x.customer_phone),
                   coalesce(v_center, x.center)
                INTO v_name, v_phone, v_center
                FROM calls x WHERE x.complaint_id = a->>'complaint_id' ORDER BY x.started_at LIMIT 1;
        END IF;
    END IF;
    IF v_ticket IS NOT NULL THEN
        v_center := coalesce(v_center, t.center);
        v_name := coalesce(v_name, t.customer_name);
        v_phone := coalesce(v_phone, t.customer_phone);
    END IF;
    IF v_center IS NULL AND p_principal->>'role' = 'center' THEN
        v_center := p_principal->>'site';
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', v_center));
        END IF;
        IF NOT may_see(p_principal, v_center, v_region) THEN
            PERFORM fail(403, 'forbidden', format('you may not record calls for centre %s', v_center));
        END IF;
    ELSIF p_principal->>'role' <> 'admin' THEN
        PERFORM fail(400, 'validation', 'center: is required for a call without a ticket');
    END IF;
    INSERT INTO calls(id, direction, channel, category, outcome, customer_name, customer_phone,
                      ticket_id, complaint_id, complaint, center, region, summary, agent,
                      duration_s, started_at, request_id)
    VALUES ('CL' || lpad(nextval('call_no')::text, 8, '0'), a->>'direction',
            coalesce(a->>'channel', 'phone'), a->>'category', coalesce(a->>'outcome', 'answered'),
            v_name, v_phone, v_ticket, nullif(a->>'complaint_id', ''), a->'complaint', v_center,
            v_region, a->>'summary', coalesce(p_principal->>'subject', 'unknown'),
            coalesce((a->>'duration_s')::int, 0),
            coalesce((a->>'started_at')::timestamptz, now()), p_req)
    RETURNING * INTO c;
    IF c.complaint IS NOT NULL THEN
        PERFORM emit('intake', 'intake.CallLogged', jsonb_strip_nulls(jsonb_build_object(
            'call_id', c.id, 'center', c.center, 'region', c.region, 'category', c.category,
            'channel', c.channel, 'ticket_id', c.ticket_id,
            'customer', jsonb_build_object('name', c.customer_name, 'phone', c.customer_phone),
            'complaint', c.complaint, 'agent', c.agent, 'summary', c.summary,
            'started_at', to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
            p_req);
    END IF;
    PERFORM audit_write(p_principal, p_req, 'record', 'call', c.id,
                        jsonb_build_object('category', c.category, 'ticket', c.ticket_id));
    RETURN jsonb_build_object('status', 201, 'body', call_json(c, NOT sees_phones(p_principal)));
END $$;

CREATE FUNCTION may_see_call(p_principal jsonb, c calls) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.center IS NULL THEN coalesce(p_principal->>'role', '') IN ('admin', 'reviewer')
                ELSE may_see(p_principal, c.center, c.region) END
$$;

CREATE FUNCTION cmd_get_call(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    SELECT * INTO c FROM calls WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_call(p_principal, c) THEN
        PERFORM fail(404, 'not_found', format('call %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'call', c.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', call_json(c, false));
END $$;

-- The archive: newest first, by phone, ticket, category, centre, business dates and text.
CREATE FUNCTION cmd_list_calls(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_mask boolean := NOT sees_phones(p_principal);
    v_rows jsonb;
    v_n int;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT started_at, id INTO v_after_at, v_after_id FROM calls WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'after: the cursor does not name a call');
        END IF;
    END IF;
    WITH page AS (
        SELECT c FROM calls c
        WHERE may_see_call(p_principal, c)
          AND (a->>'phone' IS NULL OR c.customer_phone = a->>'phone')
          AND (a->>'ticket_id' IS NULL OR c.ticket_id = a->>'ticket_id')
          AND (a->>'category' IS NULL OR c.category = a->>'category')
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND (a->>'from' IS NULL OR c.started_at >= ((a->>'from')::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'to' IS NULL OR c.started_at < (((a->>'to')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'q' IS NULL OR strpos(lower(c.summary || ' ' || coalesce(c.customer_name, '')),
                                         lower(a->>'q')) > 0)
          AND (v_after_id IS NULL OR (c.started_at, c.id) < (v_after_at, v_after_id))
        ORDER BY c.started_at DESC, c.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(call_json(page.c, v_mask)), '[]'), count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'calls', v_rows, 'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

-- Statistics over business dates [from, to] (default the last 30 days): by category, by centre
-- and by hour of the day (Asia/Shanghai), each row with its outcomes and mean duration.
CREATE FUNCTION cmd_call_stats(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_res jsonb;
BEGIN
    WITH sel AS (
        SELECT c.*, extract(hour FROM c.started_at AT TIME ZONE 'Asia/Shanghai')::int AS hour
        FROM calls c
        WHERE may_see_call(p_principal, c)
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND c.started_at >= (v_from::timestamp AT TIME ZONE 'Asia/Shanghai')
          AND c.started_at < ((v_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')),
    grouped AS (
        SELECT g.dim, g.key, count(*) AS n,
               count(*) FILTER (WHERE s.outcome = 'answered') AS answered,
               count(*) FILTER (WHERE s.outcome = 'transferred') AS transferred,
               count(*) FILTER (WHERE s.outcome = 'callback_needed') AS callback_needed,
               round(avg(s.duration_s))::int AS avg_duration_s
        FROM sel s
        CROSS JOIN LATERAL (VALUES ('category', s.category), ('center', coalesce(s.center, '(head office)')),
                                   ('hour', lpad(s.hour::text, 2, '0'))) AS g(dim, key)
        GROUP BY g.dim, g.key)
    SELECT jsonb_build_object(
        'from', v_from::text, 'to', v_to::text,
        'total', (SELECT count(*) FROM sel),
        'by_category', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'category'), '[]'),
        'by_center', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'center'), '[]'),
        'by_hour', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'hour'), '[]'))
        INTO v_res;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', v_res);
END $$;

-- surveys opened the complaint a call asked for: link it (a repeat changes nothing), and let
-- the ticket list it too.
CREATE FUNCTION on_call_complaint_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calls SET complaint_id = e->>'complaint_id'
        WHERE id = e->>'call_id' AND complaint_id IS NULL;
END $$;
