-- intake: promised deadlines (issue 19.2). Every ticket is promised "ready by" a date computed
-- from its centre's service level for the device category; time spent waiting for the customer
-- (estimate_pending: the customer has not yet consented) pauses the clock; the promise is met
-- when the device is ready for pickup (or the ticket ends another way: refund, exchange, cancel,
-- return) — waiting for the customer to collect it is not the workshop's time. A promise missed
-- escalates desk -> centre_manager -> region on a timer that lives in the database
-- (tickets.promise_next_check_at), the same pattern as the complaint deadlines in surveys.
-- Everything is maintained by one trigger on tickets, so every path that opens or moves a
-- ticket is covered without touching the command functions.

-- The service's settings, written by the service at every start (as surveys does).
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO settings(name, value) VALUES
    ('test_mode', 0), ('clock_offset_s', 0), ('promise_default_h', 72),
    ('promise_at_risk_pct', 25), ('promise_region_after_h', 24);

CREATE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT value FROM settings WHERE name = p_name $$;

-- The service clock: database time plus the test clock offset (counted in test mode only).
CREATE FUNCTION svc_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT now() + make_interval(secs => coalesce(setting('clock_offset_s'), 0)
                                         * (coalesce(setting('test_mode'), 0) <> 0)::int)
$$;

-- Service levels: hours from opening to "ready", per centre and category. '*' is a wildcard:
-- (centre, category) wins over (centre, '*'), then ('*', category), then the setting
-- promise_default_h. Changing a level applies to tickets opened afterwards.
CREATE TABLE service_levels (
    center     text NOT NULL,
    category   text NOT NULL,
    hours      int NOT NULL CHECK (hours BETWEEN 1 AND 8760),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    PRIMARY KEY (center, category)
);

ALTER TABLE tickets
    ADD COLUMN promise_h int,
    ADD COLUMN promised_at timestamptz,          -- ready by; moved later by every pause
    ADD COLUMN paused_since timestamptz,         -- the clock is paused (waiting for the customer)
    ADD COLUMN promise_met_at timestamptz,       -- the clock stopped (ready, or the ticket ended)
    ADD COLUMN promise_level text NOT NULL DEFAULT 'desk'
        CHECK (promise_level IN ('desk', 'centre_manager', 'region')),
    ADD COLUMN promise_next_check_at timestamptz;
CREATE INDEX tickets_promise_check ON tickets (promise_next_check_at)
    WHERE promise_next_check_at IS NOT NULL;

CREATE FUNCTION service_level_hours(p_center text, p_category text) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT hours FROM service_levels
                     WHERE center IN (p_center, '*') AND category IN (p_category, '*')
                     ORDER BY (center = '*'), (category = '*') LIMIT 1),
                    setting('promise_default_h')::int, 72)
$$;

-- When the timer next has to look at a running promise at this level.
CREATE FUNCTION promise_check_at(p_promised timestamptz, p_level text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE p_level
        WHEN 'desk' THEN p_promised
        WHEN 'centre_manager' THEN p_promised + make_interval(hours => coalesce(setting('promise_region_after_h'), 24)::int)
        END
$$;

-- The promise as it stands now: while paused, the date moves with the clock.
CREATE FUNCTION promise_due(t tickets) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.paused_since IS NOT NULL AND t.promise_met_at IS NULL
                THEN t.promised_at + (svc_now() - t.paused_since) ELSE t.promised_at END
$$;

CREATE FUNCTION promise_overdue(t tickets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT t.promised_at IS NOT NULL AND t.promise_met_at IS NULL AND svc_now() > promise_due(t)
$$;

CREATE FUNCTION promise_at_risk(t tickets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT t.promised_at IS NOT NULL AND t.promise_met_at IS NULL AND t.paused_since IS NULL
           AND svc_now() <= t.promised_at
           AND svc_now() > t.promised_at - make_interval(secs => t.promise_h * 36
                                                          * coalesce(setting('promise_at_risk_pct'), 25))
$$;

CREATE FUNCTION tickets_promise_clock() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := svc_now();
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.promise_h := service_level_hours(NEW.center, NEW.category);
        NEW.promised_at := v_now + make_interval(hours => NEW.promise_h);
        NEW.promise_level := 'desk';
        NEW.promise_next_check_at := NEW.promised_at;
    END IF;
    IF NEW.promised_at IS NULL OR NEW.promise_met_at IS NOT NULL THEN
        RETURN NEW;  -- tickets opened before promises existed, or a clock already stopped
    END IF;
    -- leaving a pause: the promise moves by the time the customer took
    IF NEW.paused_since IS NOT NULL AND NEW.state <> 'estimate_pending' THEN
        NEW.promised_at := NEW.promised_at + (v_now - NEW.paused_since);
        NEW.paused_since := NULL;
        NEW.promise_next_check_at := promise_check_at(NEW.promised_at, NEW.promise_level);
    END IF;
    IF NEW.state IN ('ready', 'closed', 'cancelled', 'declined', 'refunded', 'exchanged', 'returned') THEN
        NEW.promise_met_at := v_now;
        NEW.promise_next_check_at := NULL;
    ELSIF NEW.state = 'estimate_pending' AND NEW.paused_since IS NULL THEN
        NEW.paused_since := v_now;
        NEW.promise_next_check_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tickets_promise_clock BEFORE INSERT OR UPDATE OF state ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_promise_clock();

-- The timer's work: every running promise whose check is due moves one level up (and again, if
-- the service was down past the next step too), with a timeline row and intake.PromiseEscalated
-- in the same transaction. Returns the number of escalations.
CREATE FUNCTION escalate_promises_due() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    v_n int := 0;
    v_now timestamptz := svc_now();
    v_to text;
BEGIN
    FOR t IN SELECT * FROM tickets WHERE promise_next_check_at <= v_now ORDER BY promise_next_check_at, id
             FOR UPDATE SKIP LOCKED LOOP
        WHILE t.promise_next_check_at IS NOT NULL AND t.promise_next_check_at <= v_now LOOP
            v_to := CASE t.promise_level WHEN 'desk' THEN 'centre_manager' ELSE 'region' END;
            UPDATE tickets SET promise_level = v_to,
                               promise_next_check_at = promise_check_at(promised_at, v_to)
                WHERE id = t.id RETURNING * INTO t;
            INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
                VALUES (t.id, t.state, t.state, 'promise_escalated', 'intake',
                        format('promised by %s, not ready: escalated to %s',
                               to_char(t.promised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_to));
            PERFORM emit('intake', 'intake.PromiseEscalated', jsonb_build_object(
                'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
                'from_level', CASE v_to WHEN 'centre_manager' THEN 'desk' ELSE 'centre_manager' END,
                'to_level', v_to,
                'promised_at', to_char(t.promised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'escalated_at', to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'state', t.state));
            v_n := v_n + 1;
        END LOOP;
    END LOOP;
    RETURN v_n;
END $$;

CREATE FUNCTION promise_next_check_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT greatest(0, ceil(extract(epoch FROM min(promise_next_check_at) - svc_now()) * 1000))::bigint
    FROM tickets WHERE promise_next_check_at IS NOT NULL
$$;

CREATE FUNCTION promise_json(t tickets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.promised_at IS NULL THEN '{}'::jsonb ELSE jsonb_strip_nulls(jsonb_build_object(
        'promised_at', to_char(promise_due(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'promise_hours', t.promise_h,
        'at_risk', promise_at_risk(t),
        'overdue', promise_overdue(t),
        'promise_paused', t.paused_since IS NOT NULL AND t.promise_met_at IS NULL,
        'promise_level', t.promise_level,
        'promise_met_at', to_char(t.promise_met_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'promise_kept', CASE WHEN t.promise_met_at IS NOT NULL AND t.state IN ('ready', 'closed')
                             THEN t.promise_met_at <= t.promised_at END)) END
$$;

-- ticket_json() as in 113_loaners.sql, plus the promise.
CREATE OR REPLACE FUNCTION ticket_json(t tickets, p_timeline boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
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
        'callback_id', t.callback_id,
        'loaner_unit', t.loaner_unit,
        'complaints', CASE WHEN cardinality(t.complaints) > 0 THEN to_jsonb(t.complaints) END,
        'warnings', to_jsonb(t.warnings),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'from_state', e.from_state, 'to_state', e.to_state, 'event', e.event,
                'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM ticket_timeline e WHERE e.ticket_id = t.id) END)) || promise_json(t);
END $$;

-- GET /v1/promises: running promises at risk or overdue (or both), in scope, most urgent first.
CREATE FUNCTION cmd_list_promises(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_status text := coalesce(nullif(a->>'status', ''), 'all');
    v_mask boolean := NOT sees_phones(p_principal);
    v_rows jsonb;
BEGIN
    WITH page AS (
        SELECT t FROM tickets t
        WHERE t.promise_met_at IS NULL AND t.promised_at IS NOT NULL
          AND may_see(p_principal, t.center, t.region)
          AND (a->>'center' IS NULL OR t.center = a->>'center')
          AND CASE v_status WHEN 'overdue' THEN promise_overdue(t)
                            WHEN 'at_risk' THEN promise_at_risk(t)
                            ELSE promise_overdue(t) OR promise_at_risk(t) END
        ORDER BY promise_due(t), t.id
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(CASE WHEN v_mask
                                   THEN jsonb_set(ticket_json(page.t, false), '{customer,phone}',
                                                  to_jsonb(mask_phone((page.t).customer_phone)))
                                   ELSE ticket_json(page.t, false) END), '[]')
        INTO v_rows FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('tickets', v_rows));
END $$;

-- GET /v1/reports/promises: per centre in scope, running promises, at risk, overdue, and of the
-- promises that ended by a repair (ready/closed) in [from, to] (business dates), kept and missed.
CREATE FUNCTION cmd_promise_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (svc_now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_from > v_to THEN
        PERFORM fail(400, 'validation', 'from: is after to');
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'center', c.code, 'region', c.region, 'open', r.open, 'at_risk', r.at_risk,
               'overdue', r.overdue, 'escalated', r.escalated, 'kept', r.kept, 'missed', r.missed,
               'kept_pct', CASE WHEN r.kept + r.missed > 0
                                THEN round(100.0 * r.kept / (r.kept + r.missed), 1) END)
               ORDER BY c.code), '[]')
        INTO v_rows
    FROM centers c
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.promise_met_at IS NULL) AS open,
               count(*) FILTER (WHERE t.promise_met_at IS NULL AND promise_at_risk(t)) AS at_risk,
               count(*) FILTER (WHERE t.promise_met_at IS NULL AND promise_overdue(t)) AS overdue,
               count(*) FILTER (WHERE t.promise_met_at IS NULL AND t.promise_level <> 'desk') AS escalated,
               count(*) FILTER (WHERE t.promise_met_at IS NOT NULL AND t.state IN ('ready', 'closed')
                                  AND (t.promise_met_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN v_from AND v_to
                                  AND t.promise_met_at <= t.promised_at) AS kept,
               count(*) FILTER (WHERE t.promise_met_at IS NOT NULL AND t.state IN ('ready', 'closed')
                                  AND (t.promise_met_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN v_from AND v_to
                                  AND t.promise_met_at > t.promised_at) AS missed
        FROM tickets t WHERE t.center = c.code AND t.promised_at IS NOT NULL) r
    WHERE may_see(p_principal, c.code, c.region)
      AND (a->>'center' IS NULL OR c.code = a->>'center');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
END $$;

CREATE FUNCTION cmd_list_service_levels(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'default_hours', coalesce(setting('promise_default_h'), 72),
        'levels', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'center', s.center, 'category', s.category, 'hours', s.hours,
                       'updated_by', s.updated_by,
                       'updated_at', to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                       ORDER BY s.center, s.category), '[]')
                   FROM service_levels s
                   WHERE (a->>'center' IS NULL OR s.center IN (a->>'center', '*'))
                     AND (s.center = '*' OR EXISTS (SELECT 1 FROM centers c WHERE c.code = s.center
                                                    AND may_see(p_principal, c.code, c.region))))));
END $$;

-- POST /v1/service-levels (admin): set one level; hours 0 removes it (back to the fallback).
CREATE FUNCTION cmd_set_service_level(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := a->>'center';
    v_category text := a->>'category';
    v_hours int := (a->>'hours')::int;
BEGIN
    IF v_center <> '*' AND NOT EXISTS (SELECT 1 FROM centers WHERE code = v_center) THEN
        PERFORM fail(422, 'unknown_center', format('center: %s does not exist', v_center));
    END IF;
    IF v_hours = 0 THEN
        DELETE FROM service_levels WHERE center = v_center AND category = v_category;
    ELSE
        INSERT INTO service_levels(center, category, hours, updated_by)
        VALUES (v_center, v_category, v_hours, coalesce(p_principal->>'subject', 'unknown'))
        ON CONFLICT (center, category) DO UPDATE
            SET hours = EXCLUDED.hours, updated_at = now(), updated_by = EXCLUDED.updated_by;
    END IF;
    PERFORM audit_write(p_principal, p_req, 'service_level_set', 'service_level',
                        v_center || '/' || v_category, jsonb_build_object('hours', v_hours));
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'center', v_center, 'category', v_category, 'hours', v_hours,
        'effective_hours', service_level_hours(CASE WHEN v_center = '*' THEN '' ELSE v_center END,
                                               CASE WHEN v_category = '*' THEN '' ELSE v_category END)));
END $$;
