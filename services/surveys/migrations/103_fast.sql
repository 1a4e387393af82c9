-- surveys: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a FROM clause, a
-- sub-select, an aggregate, a write) are redefined here in PL/pgSQL with the same signature and
-- the same results; ts_text(), declared IMMUTABLE while to_char is only STABLE, is declared
-- STABLE and then inlines. svc_now(), svc_today(), window_h() and the other one-expression
-- helpers were inlined already and stay as they are (they now call the PL/pgSQL setting()).
--
-- on_ticket_closed() reads the service clock once and the centre's region once (it read the
-- clock, two settings each time, up to three times, and the region twice).

-- ---- inlined: declared STABLE, as its body is --------------------------------------------------

CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- ---- PL/pgSQL -----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
BEGIN
    SELECT s.value INTO v FROM settings s WHERE s.name = p_name;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION weight_set_on(d date) RETURNS weight_sets
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w weight_sets;
BEGIN
    SELECT * INTO w FROM weight_sets ws WHERE ws.effective_from <= d
    ORDER BY ws.effective_from DESC, ws.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN w;
END $$;

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

CREATE OR REPLACE FUNCTION complaint_reply(p_id text, p_status int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('status', p_status, 'body', complaint_json(c, true))
            FROM complaints c WHERE c.id = p_id);
END $$;

CREATE OR REPLACE FUNCTION callback_json(cb callbacks, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', cb.id, 'ticket_id', cb.ticket_id, 'center', cb.center, 'region', cb.region,
        'state', cb.state, 'customer_name', cb.customer_name, 'customer_phone', cb.customer_phone,
        'category', cb.category, 'brand', cb.brand, 'outcome', cb.outcome,
        'closed_at', ts_text(cb.closed_at), 'due_at', ts_text(cb.due_at),
        'due_date', (cb.due_at AT TIME ZONE 'Asia/Shanghai')::date::text,
        'first_due_at', ts_text(cb.first_due_at), 'attempts', cb.attempts,
        'max_attempts', cb.max_attempts,
        'history', CASE WHEN p_full THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'attempt', x.attempt, 'at', ts_text(x.at), 'result', x.result, 'by', x.by_,
                'note', x.note)) ORDER BY x.attempt), '[]')
            FROM callback_attempts x WHERE x.callback_id = cb.id) END,
        'response', CASE WHEN p_full THEN (
            SELECT response_json(r, (SELECT c.id FROM complaints c WHERE c.response_id = r.id))
            FROM responses r WHERE r.callback_id = cb.id) END));
END $$;

CREATE OR REPLACE FUNCTION callback_attempt_add(cb callbacks, p_result text, p_principal jsonb,
                                                p_note text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_attempts(callback_id, attempt, at, result, by_, note, request_id)
    VALUES (cb.id, cb.attempts + 1, svc_now(), p_result, actor(p_principal), p_note, p_req);
END $$;

-- Milliseconds until the timer must next act (0 if overdue already); NULL when nothing pends.
CREATE OR REPLACE FUNCTION next_check_ms() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_next timestamptz;
BEGIN
    SELECT min(d.next_check_at) INTO v_next FROM complaint_deadlines d
    WHERE d.next_check_at IS NOT NULL;
    IF v_next IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN greatest(0, ceil(extract(epoch FROM v_next - svc_now()) * 1000))::bigint;
END $$;

CREATE OR REPLACE FUNCTION cmd_list_weight_sets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'weight_sets', (SELECT coalesce(jsonb_agg(weight_set_json(w) ORDER BY w.version), '[]')
                        FROM weight_sets w),
        'current_version', (weight_set_on(svc_today())).version));
END $$;

-- ---- events in ---------------------------------------------------------------------------------

-- intake.TicketClosed: schedule the satisfaction callback, once per ticket (a replay finds the
-- row and does nothing). Due `callback_delay_h` after the close, moved into business hours.
-- As in 101_fixes.sql, with the service clock and the centre's region read once each.
CREATE OR REPLACE FUNCTION on_ticket_closed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_now timestamptz := svc_now();
    v_closed timestamptz := coalesce((e->>'closed_at')::timestamptz,
                                     CASE WHEN e->>'closed_date' IS NOT NULL
                                          THEN day_start((e->>'closed_date')::date) + interval '12 hours' END,
                                     v_now);
    v_due timestamptz := into_business_hours(v_closed
                             + make_interval(hours => setting('callback_delay_h')::int));
    v_region text;
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN; -- nothing to call about
    END IF;
    IF EXISTS (SELECT 1 FROM callbacks WHERE ticket_id = e->>'ticket_id') THEN
        RETURN; -- a replay: the callback is already scheduled (the UNIQUE key guards as well)
    END IF;
    v_region := e->>'region';
    IF v_region IS NULL THEN
        SELECT c.region INTO v_region FROM centers c WHERE c.code = e->>'center';
    END IF;
    INSERT INTO callbacks(id, ticket_id, center, region, customer_name, customer_phone,
                          category, brand, outcome, closed_at, first_due_at, due_at,
                          max_attempts, created_at, updated_at)
    VALUES ('CB' || lpad(nextval('callback_no')::text, 8, '0'), e->>'ticket_id', e->>'center',
            v_region, e#>>'{customer,name}', e#>>'{customer,phone}', e->>'category', e->>'brand',
            e->>'outcome', v_closed, v_due, v_due, setting('callback_max_attempts')::int,
            v_now, v_now)
    ON CONFLICT (ticket_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.CallbackScheduled', jsonb_build_object(
            'callback_id', v_id, 'ticket_id', e->>'ticket_id', 'center', e->>'center',
            'region', v_region,
            'due_at', to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
    END IF;
END $$;
