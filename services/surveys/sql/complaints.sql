-- surveys: complaints functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Start of business date d (Asia/Shanghai) as an instant.
CREATE OR REPLACE FUNCTION day_start(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT d::timestamp AT TIME ZONE 'Asia/Shanghai'
$$;

-- The first business instant at or after t.
CREATE OR REPLACE FUNCTION into_business_hours(t timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    l timestamp := t AT TIME ZONE 'Asia/Shanghai';
BEGIN
    IF l::time < time '09:00' THEN
        l := l::date + time '09:00';
    ELSIF l::time >= time '18:00' THEN
        l := (l::date + 1) + time '09:00';
    END IF;
    RETURN l AT TIME ZONE 'Asia/Shanghai';
END $$;

-- t plus `h` hours counted inside business hours only (16:00 + 4 h = 11:00 the next day).
CREATE OR REPLACE FUNCTION business_add(t timestamptz, h int) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    cur timestamp := into_business_hours(t) AT TIME ZONE 'Asia/Shanghai';
    left_ interval := make_interval(hours => h);
    avail interval;
BEGIN
    LOOP
        avail := (cur::date + time '18:00') - cur;
        IF left_ < avail THEN
            RETURN (cur + left_) AT TIME ZONE 'Asia/Shanghai';
        END IF;
        left_ := left_ - avail;
        cur := (cur::date + 1) + time '09:00';
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION severity_rank(s text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'general' THEN 1 WHEN 'serious' THEN 2 WHEN 'critical' THEN 3 END
$$;

CREATE OR REPLACE FUNCTION severity_of_channel(ch text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN ch IN ('walk_in', 'phone', 'online', 'survey') THEN 'general'
        WHEN ch IN ('manufacturer', 'hotline_12315', 'operator') THEN 'serious'
        WHEN ch IN ('media', 'government') THEN 'critical' END
$$;

CREATE OR REPLACE FUNCTION level_rank(l text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l WHEN 'centre_lead' THEN 1 WHEN 'centre_manager' THEN 2 WHEN 'branch' THEN 3
                  WHEN 'head_office' THEN 4 END
$$;

CREATE OR REPLACE FUNCTION level_next(l text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l WHEN 'centre_lead' THEN 'centre_manager' WHEN 'centre_manager' THEN 'branch'
                  WHEN 'branch' THEN 'head_office' END
$$;

-- Where a complaint of this severity starts: general at the front-desk lead, serious with the
-- centre manager, critical at head office at once.
CREATE OR REPLACE FUNCTION initial_level(sev text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE sev WHEN 'general' THEN 'centre_lead' WHEN 'serious' THEN 'centre_manager'
                    ELSE 'head_office' END
$$;

-- Who owns a complaint once it reached a level by escalation.
CREATE OR REPLACE FUNCTION level_owner(l text, p_center text, p_region text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l
        WHEN 'centre_lead' THEN 'centre_lead@' || coalesce(p_center, 'head_office')
        WHEN 'centre_manager' THEN 'centre_manager@' || coalesce(p_center, 'head_office')
        WHEN 'branch' THEN 'branch@' || coalesce(p_region, 'head_office')
        ELSE 'head_office' END
$$;

-- The window (hours) a severity allows for a kind of deadline: acknowledge, resolve, report.
CREATE OR REPLACE FUNCTION window_h(sev text, kind text) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT setting(sev || '_' || CASE kind WHEN 'acknowledge' THEN 'ack' ELSE kind END || '_h')::int
$$;

CREATE OR REPLACE FUNCTION history_add(p_id text, p_event text, p_from_state text, p_to_state text,
                                       p_from_level text, p_to_level text, p_severity text,
                                       p_actor text, p_note text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO complaint_history(complaint_id, at, event, from_state, to_state, from_level,
                                  to_level, severity, actor, note, request_id)
    VALUES (p_id, svc_now(), p_event, p_from_state, p_to_state, p_from_level, p_to_level,
            p_severity, p_actor, p_note, p_req);
END $$;

-- Set (or reset) a deadline `hours` from now.
CREATE OR REPLACE FUNCTION deadline_set(p_id text, p_kind text, p_hours int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_due timestamptz := svc_now() + make_interval(hours => p_hours);
BEGIN
    INSERT INTO complaint_deadlines(complaint_id, kind, due_at, next_check_at)
    VALUES (p_id, p_kind, v_due, v_due)
    ON CONFLICT (complaint_id, kind) DO UPDATE
        SET due_at = EXCLUDED.due_at, next_check_at = EXCLUDED.next_check_at, met_at = NULL,
            escalations = 0;
END $$;

CREATE OR REPLACE FUNCTION deadline_meet(p_id text, p_kind text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE complaint_deadlines SET met_at = svc_now(), next_check_at = NULL
    WHERE complaint_id = p_id AND kind = p_kind AND met_at IS NULL;
END $$;

CREATE OR REPLACE FUNCTION complaint_overdue(c complaints) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM complaint_deadlines d
                   WHERE d.complaint_id = c.id AND d.met_at IS NULL AND d.due_at <= svc_now());
END $$;

CREATE OR REPLACE FUNCTION complaint_json(c complaints, p_history boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'ticket_id', c.ticket_id, 'center', c.center, 'region', c.region,
        'channel', c.channel, 'cause', c.cause, 'description', c.description,
        'customer_name', c.customer_name, 'customer_phone', c.customer_phone,
        'severity', c.severity, 'state', c.state, 'level', c.level, 'owner', c.owner,
        'source', c.source, 'response_id', c.response_id,
        'created_at', ts_text(c.created_at), 'acknowledged_at', ts_text(c.acknowledged_at),
        'resolved_at', ts_text(c.resolved_at), 'closed_at', ts_text(c.closed_at),
        'resolution', c.resolution, 'followup_outcome', c.followup_outcome, 'report', c.report,
        'overdue', complaint_overdue(c), 'escalations', c.escalations, 'reopened', c.reopened,
        'deadlines', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'kind', d.kind, 'due_at', ts_text(d.due_at), 'met_at', ts_text(d.met_at),
                'breached', coalesce(d.met_at, svc_now()) > d.due_at,
                'escalations', d.escalations,
                'next_escalation_at', ts_text(d.next_check_at)))
                ORDER BY CASE d.kind WHEN 'acknowledge' THEN 1 WHEN 'report' THEN 2 ELSE 3 END), '[]')
            FROM complaint_deadlines d WHERE d.complaint_id = c.id),
        'history', CASE WHEN p_history THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', ts_text(h.at), 'event', h.event, 'from_state', h.from_state,
                'to_state', h.to_state, 'from_level', h.from_level, 'to_level', h.to_level,
                'severity', h.severity, 'actor', h.actor, 'note', h.note)) ORDER BY h.id), '[]')
            FROM complaint_history h WHERE h.complaint_id = c.id) END));
END $$;

CREATE OR REPLACE FUNCTION complaint_create(p_req text, p_principal jsonb, p_channel text, p_ticket text,
                                 p_center text, p_region text, p_cause text, p_description text,
                                 p_customer_name text, p_customer_phone text, p_source text,
                                 p_response text) RETURNS complaints
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
    v_tier text := CASE WHEN p_ticket IS NOT NULL THEN ticket_tier(p_ticket) ELSE 'regular' END;
    v_sev text := severity_for_tier(severity_of_channel(p_channel), v_tier);
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
                        format('channel %s, cause %s, owner %s', p_channel, p_cause, c.owner)
                        || CASE WHEN v_tier IN ('key', 'vip')
                                THEN format('; %s customer: severity one step up', v_tier) ELSE '' END,
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'open', 'complaint', c.id,
                        jsonb_build_object('channel', p_channel, 'severity', v_sev, 'source', p_source,
                                           'tier', v_tier));
    -- Every complaint that names a centre is published (with or without a ticket): intake
    -- links it to the ticket and counts it on the centre's scorecard.
    IF c.ticket_id IS NOT NULL OR c.center IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.ComplaintOpened', jsonb_strip_nulls(jsonb_build_object(
            'complaint_id', c.id, 'ticket_id', c.ticket_id, 'center', c.center,
            'region', c.region, 'opened_date', (svc_now() AT TIME ZONE 'Asia/Shanghai')::date::text)));
    END IF;
    RETURN c;
END $$;

-- Move a complaint one or more levels up (to p_to) and publish ComplaintEscalated.
CREATE OR REPLACE FUNCTION complaint_escalate(c complaints, p_to text, p_reason text, p_deadline text,
                                   p_due timestamptz, p_actor text, p_req text) RETURNS complaints
LANGUAGE plpgsql AS $$
DECLARE
    v_from text := c.level;
    v_owner text := level_owner(p_to, c.center, c.region);
BEGIN
    UPDATE complaints SET level = p_to, owner = v_owner, escalations = escalations + 1,
                          updated_at = svc_now()
    WHERE id = c.id RETURNING * INTO c;
    PERFORM history_add(c.id, 'escalated', NULL, NULL, v_from, p_to, c.severity, p_actor,
                        p_reason || format(' (owner now %s)', v_owner), p_req);
    PERFORM audit_write(jsonb_build_object('subject', p_actor, 'role', 'service'), p_req,
                        'escalate', 'complaint', c.id,
                        jsonb_build_object('from', v_from, 'to', p_to, 'deadline', p_deadline));
    PERFORM emit('surveys', 'surveys.ComplaintEscalated', jsonb_build_object(
        'complaint_id', c.id, 'ticket_id', c.ticket_id, 'center', c.center, 'region', c.region,
        'severity', c.severity, 'from_level', v_from, 'to_level', p_to, 'reason', p_reason,
        'deadline', p_deadline, 'due_at', ts_text(p_due), 'escalated_at', ts_text(svc_now()),
        'owner', v_owner), p_req);
    RETURN c;
END $$;

-- The timer's work: every deadline whose check time has come escalates its complaint one step
-- per step window passed (catching up after downtime), until met or at the top of the ladder.
-- Two deadlines of one complaint breached at the same instant (a serious complaint's resolution
-- and written report are both due after 2 days) escalate it once, not twice.
-- Returns the number of escalations made.
CREATE OR REPLACE FUNCTION escalate_due() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    d complaint_deadlines;
    c complaints;
    v_now timestamptz := svc_now();
    v_n int := 0;
    v_next text;
    v_check timestamptz;
    v_steps int;
    v_done text[] := '{}'; -- complaint@instant already escalated in this run
    v_key text;
BEGIN
    FOR d IN SELECT * FROM complaint_deadlines
             WHERE next_check_at IS NOT NULL AND next_check_at <= v_now
             ORDER BY next_check_at, complaint_id, kind
             FOR UPDATE SKIP LOCKED LOOP
        SELECT * INTO c FROM complaints WHERE id = d.complaint_id FOR UPDATE;
        v_check := d.next_check_at;
        v_steps := 0;
        LOOP
            v_next := level_next(c.level);
            IF v_next IS NULL THEN
                v_check := NULL; -- head office already has it: nothing further to escalate to
                EXIT;
            END IF;
            v_key := c.id || '@' || v_check::text;
            IF NOT v_key = ANY (v_done) THEN
                c := complaint_escalate(c, v_next,
                         format('%s deadline breached (due %s)', d.kind, ts_text(d.due_at)),
                         d.kind, d.due_at, 'surveys', NULL);
                v_done := v_done || v_key;
                v_n := v_n + 1;
                v_steps := v_steps + 1;
            END IF;
            -- The new level has one first-response window to act before the next step.
            v_check := v_check + make_interval(hours => window_h(c.severity, 'acknowledge'));
            EXIT WHEN v_check > v_now;
        END LOOP;
        UPDATE complaint_deadlines SET next_check_at = v_check, escalations = escalations + v_steps
        WHERE complaint_id = d.complaint_id AND kind = d.kind;
    END LOOP;
    RETURN v_n;
END $$;

-- Milliseconds until the timer must next act (0 if overdue already); NULL when nothing pends.
CREATE OR REPLACE FUNCTION next_check_ms() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_next timestamptz;
BEGIN
    SELECT min(x) INTO v_next FROM (
        SELECT min(d.next_check_at) AS x FROM complaint_deadlines d WHERE d.next_check_at IS NOT NULL
        UNION ALL
        SELECT min(pc.due_at) FROM proactive_calls pc
        WHERE pc.kind = 'maintenance' AND pc.notified_at IS NULL) n;
    IF v_next IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN greatest(0, ceil(extract(epoch FROM v_next - svc_now()) * 1000))::bigint;
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
                              jsonb_build_object('callbacks', v_rows, 'date', v_date::text,
                                                 'proactive', proactive_due_json(p_principal, a, v_date, v_limit)));
END $$;

CREATE OR REPLACE FUNCTION complaint_for_update(p_principal jsonb, p_id text) RETURNS complaints
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
BEGIN
    SELECT * INTO c FROM complaints WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, c.center, c.region) THEN
        PERFORM fail(404, 'not_found', format('complaint %s not found', p_id));
    END IF;
    RETURN c;
END $$;

CREATE OR REPLACE FUNCTION complaint_illegal(c complaints, p_what text, p_from text) RETURNS void
LANGUAGE sql AS $$
    SELECT fail(409, 'illegal_transition',
                format('complaint %s is in state %s; %s needs %s', c.id, c.state, p_what, p_from))
$$;

CREATE OR REPLACE FUNCTION complaint_reply(p_id text, p_status int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('status', p_status, 'body', complaint_json(c, true))
            FROM complaints c WHERE c.id = p_id);
END $$;

CREATE OR REPLACE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    v_ticket text := nullif(a->>'ticket_id', '');
    c complaints;
    v_t_center text;
    v_t_region text;
    v_t_name text;
    v_t_phone text;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF v_ticket IS NOT NULL THEN
        -- The ticket's customer and centre, as intake told us (TicketOpened, else TicketClosed).
        SELECT tc.center, tc.customer_name, tc.customer_phone
            INTO v_t_center, v_t_name, v_t_phone
            FROM ticket_customers tc WHERE tc.ticket_id = v_ticket;
        IF NOT FOUND THEN
            SELECT cb.center, cb.customer_name, cb.customer_phone
                INTO v_t_center, v_t_name, v_t_phone
                FROM callbacks cb WHERE cb.ticket_id = v_ticket;
        END IF;
        IF v_t_center IS NOT NULL THEN
            SELECT region INTO v_t_region FROM centers WHERE code = v_t_center;
            IF v_role NOT IN ('admin', 'service')
               AND NOT may_see(p_principal, v_t_center, v_t_region) THEN
                PERFORM fail(404, 'not_found', format('ticket %s not found', v_ticket));
            END IF;
            IF v_center IS NULL THEN
                v_center := v_t_center;
            ELSIF v_center <> v_t_center THEN
                PERFORM fail(422, 'ticket_elsewhere',
                             format('ticket %s belongs to centre %s, not %s', v_ticket, v_t_center,
                                    v_center));
            END IF;
        END IF;
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
    c := complaint_create(p_req, p_principal, a->>'channel', v_ticket,
                          v_center, v_region, a->>'cause', a->>'description',
                          coalesce(nullif(a->>'customer_name', ''), v_t_name),
                          coalesce(nullif(a->>'customer_phone', ''), v_t_phone),
                          'manual', NULL);
    RETURN reply_for(p_principal, complaint_reply(c.id, 201));
END $$;

CREATE OR REPLACE FUNCTION cmd_get_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
BEGIN
    SELECT * INTO c FROM complaints WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see(p_principal, c.center, c.region) THEN
        PERFORM fail(404, 'not_found', format('complaint %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'complaint', c.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', complaint_json(c, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_complaints(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_rows jsonb;
    v_n int;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT created_at, id INTO v_after_at, v_after_id FROM complaints WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'the cursor does not name a complaint');
        END IF;
    END IF;
    WITH page AS (
        SELECT c FROM complaints c
        WHERE may_see(p_principal, c.center, c.region)
          AND (a->>'state' IS NULL OR c.state = a->>'state')
          AND (a->>'severity' IS NULL OR c.severity = a->>'severity')
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND (a->>'cause' IS NULL OR c.cause = a->>'cause')
          AND (a->>'ticket_id' IS NULL OR c.ticket_id = a->>'ticket_id')
          AND (v_after_id IS NULL OR (c.created_at, c.id) < (v_after_at, v_after_id))
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(phone_for(p_principal, complaint_json(page.c, false))
                              ORDER BY (page.c).created_at DESC, (page.c).id DESC), '[]'),
           count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', jsonb_strip_nulls(jsonb_build_object(
        'complaints', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

CREATE OR REPLACE FUNCTION cmd_acknowledge_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'open' THEN
        PERFORM complaint_illegal(c, 'acknowledge', 'open');
    END IF;
    UPDATE complaints SET state = 'acknowledged', acknowledged_at = svc_now(), updated_at = svc_now()
    WHERE id = c.id AND state = 'open';
    PERFORM deadline_meet(c.id, 'acknowledge');
    PERFORM history_add(c.id, 'acknowledged', 'open', 'acknowledged', NULL, NULL, NULL,
                        actor(p_principal), nullif(a->>'note', ''), p_req);
    PERFORM audit_write(p_principal, p_req, 'acknowledge', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_resolve_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'acknowledged' THEN
        PERFORM complaint_illegal(c, 'resolve', 'acknowledged');
    END IF;
    UPDATE complaints SET state = 'resolved', resolved_at = svc_now(), resolution = a->>'resolution',
                          updated_at = svc_now()
    WHERE id = c.id AND state = 'acknowledged';
    PERFORM deadline_meet(c.id, 'resolve');
    PERFORM history_add(c.id, 'resolved', 'acknowledged', 'resolved', NULL, NULL, NULL,
                        actor(p_principal), a->>'resolution', p_req);
    PERFORM audit_write(p_principal, p_req, 'resolve', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_close_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state <> 'resolved' THEN
        PERFORM complaint_illegal(c, 'close', 'resolved');
    END IF;
    IF coalesce(a->>'followup_outcome', '') = '' THEN
        PERFORM fail(422, 'followup_required', 'closing needs the outcome of the follow-up callback');
    END IF;
    UPDATE complaints SET state = 'closed', closed_at = svc_now(),
                          followup_outcome = a->>'followup_outcome', updated_at = svc_now()
    WHERE id = c.id AND state = 'resolved';
    PERFORM history_add(c.id, 'closed', 'resolved', 'closed', NULL, NULL, NULL, actor(p_principal),
                        'follow-up: ' || (a->>'followup_outcome') || coalesce('; ' || nullif(a->>'note', ''), ''),
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'close', 'complaint', c.id,
                        jsonb_build_object('followup_outcome', a->>'followup_outcome'));
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_reopen_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF c.state NOT IN ('resolved', 'closed') THEN
        PERFORM complaint_illegal(c, 'reopen', 'resolved or closed');
    END IF;
    UPDATE complaints SET state = 'open', reopened = reopened + 1, acknowledged_at = NULL,
                          resolved_at = NULL, closed_at = NULL, followup_outcome = NULL,
                          updated_at = svc_now()
    WHERE id = c.id AND state IN ('resolved', 'closed');
    PERFORM deadline_set(c.id, 'acknowledge', window_h(c.severity, 'acknowledge'));
    PERFORM deadline_set(c.id, 'resolve', window_h(c.severity, 'resolve'));
    PERFORM history_add(c.id, 'reopened', c.state, 'open', NULL, NULL, NULL, actor(p_principal),
                        nullif(a->>'reason', ''), p_req);
    PERFORM audit_write(p_principal, p_req, 'reopen', 'complaint', c.id, '{}');
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

CREATE OR REPLACE FUNCTION cmd_raise_severity(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
    v_new text := a->>'severity';
    v_old text := c.severity;
    v_kind text;
BEGIN
    IF severity_rank(v_new) IS NULL THEN
        PERFORM fail(400, 'bad_severity', 'severity is general, serious or critical');
    END IF;
    IF severity_rank(v_new) < severity_rank(v_old) THEN
        PERFORM fail(409, 'severity_lowered',
                     format('complaint %s is %s; severity is only ever raised', c.id, v_old));
    END IF;
    IF severity_rank(v_new) = severity_rank(v_old) THEN
        PERFORM fail(409, 'severity_unchanged', format('complaint %s is already %s', c.id, v_old));
    END IF;
    IF c.state = 'closed' THEN
        PERFORM fail(409, 'illegal_transition', format('complaint %s is closed; reopen it first', c.id));
    END IF;
    UPDATE complaints SET severity = v_new, updated_at = svc_now() WHERE id = c.id
    RETURNING * INTO c;
    FOREACH v_kind IN ARRAY ARRAY['acknowledge', 'resolve'] LOOP
        UPDATE complaint_deadlines
        SET due_at = least(due_at, svc_now() + make_interval(hours => window_h(v_new, v_kind))),
            next_check_at = least(next_check_at, svc_now() + make_interval(hours => window_h(v_new, v_kind)))
        WHERE complaint_id = c.id AND kind = v_kind AND met_at IS NULL;
    END LOOP;
    IF v_new = 'serious' AND c.report IS NULL THEN
        INSERT INTO complaint_deadlines(complaint_id, kind, due_at, next_check_at)
        VALUES (c.id, 'report', svc_now() + make_interval(hours => window_h('serious', 'report')),
                svc_now() + make_interval(hours => window_h('serious', 'report')))
        ON CONFLICT DO NOTHING;
    END IF;
    PERFORM history_add(c.id, 'severity_raised', NULL, NULL, NULL, NULL, v_new, actor(p_principal),
                        format('%s -> %s%s', v_old, v_new, coalesce(': ' || nullif(a->>'note', ''), '')),
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'raise_severity', 'complaint', c.id,
                        jsonb_build_object('from', v_old, 'to', v_new));
    IF level_rank(initial_level(v_new)) > level_rank(c.level) THEN
        c := complaint_escalate(c, initial_level(v_new), format('severity raised to %s', v_new),
                                NULL, NULL, actor(p_principal), p_req);
    END IF;
    RETURN reply_for(p_principal, complaint_reply(c.id, 200));
END $$;

-- First-contact responsibility: the owner changes only by escalation or by head office.
CREATE OR REPLACE FUNCTION cmd_assign_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    IF p_principal->>'role' <> 'admin' THEN
        PERFORM fail(403, 'forbidden', 'only head office may reassign a complaint');
    END IF;
    UPDATE complaints SET owner = a->>'owner', updated_at = svc_now() WHERE id = c.id;
    PERFORM history_add(c.id, 'assigned', NULL, NULL, NULL, NULL, NULL, actor(p_principal),
                        format('owner %s -> %s%s', c.owner, a->>'owner',
                               coalesce(': ' || nullif(a->>'note', ''), '')), p_req);
    PERFORM audit_write(p_principal, p_req, 'assign', 'complaint', c.id,
                        jsonb_build_object('from', c.owner, 'to', a->>'owner'));
    RETURN complaint_reply(c.id, 200);
END $$;

CREATE OR REPLACE FUNCTION cmd_list_overdue(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 200), 1), 500);
    v_rows jsonb;
BEGIN
    WITH od AS (
        SELECT c, min(d.due_at) AS first_due FROM complaints c
        JOIN complaint_deadlines d ON d.complaint_id = c.id
        WHERE d.met_at IS NULL AND d.due_at <= svc_now()
          AND may_see(p_principal, c.center, c.region)
          AND (a->>'center' IS NULL OR c.center = a->>'center')
        GROUP BY c.id
        ORDER BY min(d.due_at), c.id
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(phone_for(p_principal, complaint_json(od.c, false))
                              ORDER BY od.first_due, (od.c).id), '[]')
    INTO v_rows FROM od;
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', jsonb_build_object('complaints', v_rows));
END $$;

CREATE OR REPLACE FUNCTION severity_for_tier(p_sev text, p_tier text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_tier IN ('key', 'vip')
                THEN CASE p_sev WHEN 'general' THEN 'serious' ELSE 'critical' END
                ELSE p_sev END
$$;
