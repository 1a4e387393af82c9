-- surveys: a complaint opened for a ticket carries that ticket's customer (issue 14, point 8),
-- the ticket learns its complaints (surveys.ComplaintOpened, point 5), and the due list can be
-- asked for one ticket's callback (ListDue.ticket_id).
--
-- Surveys now follows intake.TicketOpened, which carries the customer: ticket_customers keeps
-- (ticket, centre, name, phone) for every ticket opened since. cmd_open_complaint() takes the
-- ticket's customer (and, when no centre is given or implied, its centre) from there, else from
-- the ticket's callback; a name or phone typed in the request still wins.

CREATE TABLE ticket_customers (
    ticket_id      text PRIMARY KEY,
    center         text,
    region         text,
    customer_name  text,
    customer_phone text,
    opened_at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION on_ticket_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO ticket_customers(ticket_id, center, region, customer_name, customer_phone)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), nullif(e->>'region', ''),
                nullif(e#>>'{customer,name}', ''), nullif(e#>>'{customer,phone}', ''))
        ON CONFLICT (ticket_id) DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION complaint_create(p_req text, p_principal jsonb, p_channel text, p_ticket text,
                                 p_center text, p_region text, p_cause text, p_description text,
                                 p_customer_name text, p_customer_phone text, p_source text,
                                 p_response text) RETURNS complaints
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
    v_sev text := severity_of_channel(p_channel);
BEGIN
    INSERT INTO complaints(id, ticket_id, center, region, channel, cause, description,
                           customer_name, customer_phone, severity, state, level, owner, source,
                           response_id, created_at, updated_at)
    VALUES ('C' || lpad(nextval('complaint_no')::text, 8, '0'), p_ticket, p_center, p_region,
            p_channel, p_cause, p_description, p_customer_name, p_customer_phone, v_sev, 'open',
            initial_level(v_sev), actor(p_principal), p_source, p_response, svc_now(), svc_now())
    RETURNING * INTO c;
    PERFORM deadline_set(c.id, 'acknowledge', window_h(v_sev, 'acknowledge'));
    PERFORM deadline_set(c.id, 'resolve', window_h(v_sev, 'resolve'));
    IF v_sev = 'serious' THEN
        PERFORM deadline_set(c.id, 'report', window_h(v_sev, 'report'));
    END IF;
    PERFORM history_add(c.id, 'opened', NULL, 'open', NULL, c.level, v_sev, actor(p_principal),
                        format('channel %s, cause %s, owner %s', p_channel, p_cause, c.owner), p_req);
    PERFORM audit_write(p_principal, p_req, 'open', 'complaint', c.id,
                        jsonb_build_object('channel', p_channel, 'severity', v_sev, 'source', p_source));
    IF c.ticket_id IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.ComplaintOpened', jsonb_build_object(
            'complaint_id', c.id, 'ticket_id', c.ticket_id, 'center', c.center,
            'region', c.region));
    END IF;
    RETURN c;
END $$;

CREATE OR REPLACE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    c complaints;
    v_t_center text;
    v_t_name text;
    v_t_phone text;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF coalesce(a->>'ticket_id', '') <> '' THEN
        -- The ticket's customer and centre, as intake told us (TicketOpened, else TicketClosed).
        SELECT tc.center, tc.customer_name, tc.customer_phone
            INTO v_t_center, v_t_name, v_t_phone
            FROM ticket_customers tc WHERE tc.ticket_id = a->>'ticket_id';
        IF NOT FOUND THEN
            SELECT cb.center, cb.customer_name, cb.customer_phone
                INTO v_t_center, v_t_name, v_t_phone
                FROM callbacks cb WHERE cb.ticket_id = a->>'ticket_id';
        END IF;
    END IF;
    IF v_center IS NULL THEN
        v_center := v_t_center;
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('centre %s does not exist', v_center));
        END IF;
    END IF;
    IF v_role NOT IN ('admin', 'service') AND NOT may_see(p_principal, v_center, v_region) THEN
        PERFORM fail(403, 'forbidden',
                     format('you may not open complaints for centre %s', coalesce(v_center, '(none)')));
    END IF;
    c := complaint_create(p_req, p_principal, a->>'channel', nullif(a->>'ticket_id', ''),
                          v_center, v_region, a->>'cause', a->>'description',
                          coalesce(nullif(a->>'customer_name', ''), v_t_name),
                          coalesce(nullif(a->>'customer_phone', ''), v_t_phone),
                          'manual', NULL);
    RETURN reply_for(p_principal, complaint_reply(c.id, 201));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_due(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_date date := coalesce((a->>'date')::date, svc_today());
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 200), 1), 500);
    v_rows jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(phone_for(p_principal, callback_json(x, false))
                              ORDER BY (x).due_at, (x).id), '[]') INTO v_rows
    FROM (SELECT cb FROM callbacks cb
          WHERE cb.state = 'scheduled' AND cb.due_at < day_start(v_date + 1)
            AND may_see(p_principal, cb.center, cb.region)
            AND (a->>'center' IS NULL OR cb.center = a->>'center')
            AND (a->>'ticket_id' IS NULL OR cb.ticket_id = a->>'ticket_id')
          ORDER BY cb.due_at, cb.id LIMIT v_limit) s(x);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body',
                              jsonb_build_object('callbacks', v_rows, 'date', v_date::text));
END $$;

-- List replies are not stored (nostore): nothing to forget for the changed cmd_list_due.
