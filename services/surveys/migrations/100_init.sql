-- surveys: satisfaction callbacks after a ticket closes, survey responses scored with versioned
-- weights, complaints with owners, deadlines and an escalation ladder, and their reports.
--
-- Every instant the service decides with comes from svc_now(): the database clock plus the
-- test-only offset in `settings` (zero and locked unless the service runs in test mode), so a
-- test can move time forward without sleeping and everything — schedules, deadlines, reports —
-- moves together.

-- ---- settings and the clock ------------------------------------------------------------------

-- The service writes its configuration here at every start (so SQL decides with the same
-- values); these rows are the defaults for a schema the service has not started on yet.
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO settings(name, value) VALUES
    ('test_mode', 0), ('clock_offset_s', 0),
    ('callback_delay_h', 48), ('callback_retry_h', 4), ('callback_max_attempts', 3),
    ('low_score_milli', 3000), ('low_dimension', 1),
    ('general_ack_h', 24), ('general_resolve_h', 168),
    ('serious_ack_h', 4), ('serious_resolve_h', 48), ('serious_report_h', 48),
    ('critical_ack_h', 1), ('critical_resolve_h', 24);

CREATE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT value FROM settings WHERE name = p_name
$$;

-- The service's "now". The offset can only be non-zero in test mode (the service refuses to
-- start otherwise, and cmd_advance_clock refuses too).
CREATE FUNCTION svc_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT now() + make_interval(secs => coalesce(setting('clock_offset_s'), 0)
                                         * (coalesce(setting('test_mode'), 0) <> 0)::int)
$$;

CREATE FUNCTION svc_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (svc_now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

CREATE FUNCTION ts_text(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Start of business date d (Asia/Shanghai) as an instant.
CREATE FUNCTION day_start(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT d::timestamp AT TIME ZONE 'Asia/Shanghai'
$$;

-- ---- business hours (09:00–18:00 Asia/Shanghai, every day) -----------------------------------

-- The first business instant at or after t.
CREATE FUNCTION into_business_hours(t timestamptz) RETURNS timestamptz
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
CREATE FUNCTION business_add(t timestamptz, h int) RETURNS timestamptz
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

-- ---- reference data: regions and centres (seeded by deploy/demo/surveys.sql) ----------------

CREATE TABLE regions (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE centers (
    code   text PRIMARY KEY,
    name   text NOT NULL,
    region text NOT NULL REFERENCES regions(code)
);

-- Scope: may this principal see records of centre p_center (in region p_region)? Records with
-- no centre are visible to head-office roles only.
CREATE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_region IS NOT NULL AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_center IS NOT NULL AND p_principal->>'site' = p_center
        ELSE false END
$$;

CREATE FUNCTION actor(p_principal jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'subject', 'unknown')
$$;

-- ---- weights ---------------------------------------------------------------------------------

-- Versioned weight sets, in thousandths (the five sum to 1000). A response is scored once with
-- the set in effect on its business date and keeps that version; new sets never touch it.
CREATE TABLE weight_sets (
    version        int PRIMARY KEY CHECK (version > 0),
    effective_from date NOT NULL,
    attitude       int NOT NULL CHECK (attitude BETWEEN 0 AND 1000),
    repair_quality int NOT NULL CHECK (repair_quality BETWEEN 0 AND 1000),
    timeliness     int NOT NULL CHECK (timeliness BETWEEN 0 AND 1000),
    price          int NOT NULL CHECK (price BETWEEN 0 AND 1000),
    facilities     int NOT NULL CHECK (facilities BETWEEN 0 AND 1000),
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL DEFAULT 'migration',
    CHECK (attitude + repair_quality + timeliness + price + facilities = 1000)
);
INSERT INTO weight_sets(version, effective_from, attitude, repair_quality, timeliness, price,
                        facilities, note)
VALUES (1, '2000-01-01', 300, 300, 200, 100, 100, 'initial weights');

-- Weight sets can be added, never changed or removed.
CREATE FUNCTION weight_sets_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'weight sets are append-only' USING ERRCODE = '23514';
END $$;
CREATE TRIGGER weight_sets_frozen BEFORE UPDATE OR DELETE ON weight_sets
    FOR EACH ROW EXECUTE FUNCTION weight_sets_frozen();

CREATE FUNCTION weight_set_on(d date) RETURNS weight_sets
LANGUAGE sql STABLE AS $$
    SELECT * FROM weight_sets WHERE effective_from <= d
    ORDER BY effective_from DESC, version DESC LIMIT 1
$$;

CREATE FUNCTION weight_set_json(w weight_sets) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'version', w.version, 'effective_from', w.effective_from::text,
        'attitude', w.attitude, 'repair_quality', w.repair_quality,
        'timeliness', w.timeliness, 'price', w.price, 'facilities', w.facilities,
        'note', w.note, 'created_at', ts_text(w.created_at), 'created_by', w.created_by))
$$;

-- ---- callbacks -------------------------------------------------------------------------------

CREATE SEQUENCE callback_no;
CREATE SEQUENCE response_no;

-- One satisfaction callback per closed ticket (the UNIQUE key makes a replayed TicketClosed a
-- no-op).
CREATE TABLE callbacks (
    id             text PRIMARY KEY,
    ticket_id      text NOT NULL UNIQUE,
    center         text NOT NULL,
    region         text,
    state          text NOT NULL DEFAULT 'scheduled'
                   CHECK (state IN ('scheduled', 'answered', 'refused', 'unreachable')),
    customer_name  text,
    customer_phone text,
    category       text,
    brand          text,
    outcome        text,
    closed_at      timestamptz NOT NULL,
    first_due_at   timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    attempts       int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   int NOT NULL CHECK (max_attempts >= 1),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK (attempts <= max_attempts)
);
CREATE INDEX callbacks_due ON callbacks (due_at) WHERE state = 'scheduled';
CREATE INDEX callbacks_first_due ON callbacks (first_due_at);

CREATE TABLE callback_attempts (
    callback_id text NOT NULL REFERENCES callbacks(id),
    attempt     int NOT NULL CHECK (attempt >= 1),
    at          timestamptz NOT NULL,
    result      text NOT NULL CHECK (result IN ('answered', 'refused', 'unreachable')),
    by_         text NOT NULL,
    note        text,
    request_id  text,
    PRIMARY KEY (callback_id, attempt)
);

CREATE TABLE responses (
    id             text PRIMARY KEY,
    callback_id    text NOT NULL UNIQUE REFERENCES callbacks(id),
    ticket_id      text NOT NULL,
    center         text NOT NULL,
    region         text,
    attitude       int NOT NULL CHECK (attitude BETWEEN 1 AND 5),
    repair_quality int NOT NULL CHECK (repair_quality BETWEEN 1 AND 5),
    timeliness     int NOT NULL CHECK (timeliness BETWEEN 1 AND 5),
    price          int NOT NULL CHECK (price BETWEEN 1 AND 5),
    facilities     int NOT NULL CHECK (facilities BETWEEN 1 AND 5),
    nps            int NOT NULL CHECK (nps BETWEEN 0 AND 10),
    comment        text,
    weight_version int NOT NULL REFERENCES weight_sets(version),
    -- The weighted score in thousandths of a point (3450 = 3.450), fixed at answer time.
    weighted_milli int NOT NULL CHECK (weighted_milli BETWEEN 1000 AND 5000),
    low            boolean NOT NULL,
    answered_at    timestamptz NOT NULL,
    answered_date  date NOT NULL,
    answered_by    text NOT NULL
);
CREATE INDEX responses_date ON responses (answered_date);

-- Responses are facts: never rescored, never edited.
CREATE FUNCTION responses_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'survey responses are immutable' USING ERRCODE = '23514';
END $$;
CREATE TRIGGER responses_frozen BEFORE UPDATE OR DELETE ON responses
    FOR EACH ROW EXECUTE FUNCTION responses_frozen();

CREATE FUNCTION milli_text(v numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(v / 1000, 3)::text
$$;

-- ---- complaints ------------------------------------------------------------------------------

CREATE SEQUENCE complaint_no;

CREATE TABLE complaints (
    id               text PRIMARY KEY,
    ticket_id        text,
    -- Not foreign keys: a survey complaint takes its centre from intake's event, which may name
    -- a centre this service's reference table does not list yet. Manual complaints are checked.
    center           text,
    region           text,
    channel          text NOT NULL CHECK (channel IN ('walk_in', 'phone', 'online', 'manufacturer',
                          'hotline_12315', 'operator', 'media', 'government', 'survey')),
    cause            text NOT NULL CHECK (cause IN ('attitude', 'repair_quality', 'overdue',
                          'parts_unavailable', 'price', 'other')),
    description      text NOT NULL,
    customer_name    text,
    customer_phone   text,
    severity         text NOT NULL CHECK (severity IN ('general', 'serious', 'critical')),
    state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved', 'closed')),
    level            text NOT NULL CHECK (level IN ('centre_lead', 'centre_manager', 'branch',
                          'head_office')),
    owner            text NOT NULL,
    source           text NOT NULL CHECK (source IN ('manual', 'survey')),
    response_id      text REFERENCES responses(id),
    created_at       timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    resolved_at      timestamptz,
    closed_at        timestamptz,
    resolution       text,
    followup_outcome text CHECK (followup_outcome IN ('satisfied', 'unsatisfied', 'unreachable')),
    report           text,
    escalations      int NOT NULL DEFAULT 0,
    reopened         int NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL,
    CHECK (state <> 'closed' OR followup_outcome IS NOT NULL),
    CHECK (source <> 'survey' OR ticket_id IS NOT NULL)
);
-- A low survey score opens at most one complaint per ticket.
CREATE UNIQUE INDEX complaints_one_per_survey_ticket ON complaints (ticket_id) WHERE source = 'survey';
CREATE INDEX complaints_center_created ON complaints (center, created_at DESC);
CREATE INDEX complaints_created ON complaints (created_at DESC, id DESC);

-- Deadlines per complaint. `due_at` is the promise; `next_check_at` is when the timer must act
-- next (the deadline itself, then one step later after each escalation; NULL when met or when
-- the complaint is already at the top of the ladder).
CREATE TABLE complaint_deadlines (
    complaint_id  text NOT NULL REFERENCES complaints(id),
    kind          text NOT NULL CHECK (kind IN ('acknowledge', 'resolve', 'report')),
    due_at        timestamptz NOT NULL,
    met_at        timestamptz,
    next_check_at timestamptz,
    escalations   int NOT NULL DEFAULT 0,
    PRIMARY KEY (complaint_id, kind),
    CHECK (met_at IS NULL OR next_check_at IS NULL)
);
CREATE INDEX complaint_deadlines_next ON complaint_deadlines (next_check_at)
    WHERE next_check_at IS NOT NULL;

CREATE TABLE complaint_history (
    id           bigserial PRIMARY KEY,
    complaint_id text NOT NULL REFERENCES complaints(id),
    at           timestamptz NOT NULL,
    event        text NOT NULL,
    from_state   text,
    to_state     text,
    from_level   text,
    to_level     text,
    severity     text,
    actor        text NOT NULL,
    note         text,
    request_id   text
);
CREATE INDEX complaint_history_complaint ON complaint_history (complaint_id, id);

CREATE FUNCTION severity_rank(s text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'general' THEN 1 WHEN 'serious' THEN 2 WHEN 'critical' THEN 3 END
$$;

CREATE FUNCTION severity_of_channel(ch text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN ch IN ('walk_in', 'phone', 'online', 'survey') THEN 'general'
        WHEN ch IN ('manufacturer', 'hotline_12315', 'operator') THEN 'serious'
        WHEN ch IN ('media', 'government') THEN 'critical' END
$$;

CREATE FUNCTION level_rank(l text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l WHEN 'centre_lead' THEN 1 WHEN 'centre_manager' THEN 2 WHEN 'branch' THEN 3
                  WHEN 'head_office' THEN 4 END
$$;

CREATE FUNCTION level_next(l text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l WHEN 'centre_lead' THEN 'centre_manager' WHEN 'centre_manager' THEN 'branch'
                  WHEN 'branch' THEN 'head_office' END
$$;

-- Where a complaint of this severity starts: general at the front-desk lead, serious with the
-- centre manager, critical at head office at once.
CREATE FUNCTION initial_level(sev text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE sev WHEN 'general' THEN 'centre_lead' WHEN 'serious' THEN 'centre_manager'
                    ELSE 'head_office' END
$$;

-- Who owns a complaint once it reached a level by escalation.
CREATE FUNCTION level_owner(l text, p_center text, p_region text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE l
        WHEN 'centre_lead' THEN 'centre_lead@' || coalesce(p_center, 'head_office')
        WHEN 'centre_manager' THEN 'centre_manager@' || coalesce(p_center, 'head_office')
        WHEN 'branch' THEN 'branch@' || coalesce(p_region, 'head_office')
        ELSE 'head_office' END
$$;

-- The window (hours) a severity allows for a kind of deadline: acknowledge, resolve, report.
CREATE FUNCTION window_h(sev text, kind text) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT setting(sev || '_' || CASE kind WHEN 'acknowledge' THEN 'ack' ELSE kind END || '_h')::int
$$;

CREATE FUNCTION history_add(p_id text, p_event text, p_from_state text, p_to_state text,
                            p_from_level text, p_to_level text, p_severity text, p_actor text,
                            p_note text, p_req text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO complaint_history(complaint_id, at, event, from_state, to_state, from_level,
                                  to_level, severity, actor, note, request_id)
    VALUES (p_id, svc_now(), p_event, p_from_state, p_to_state, p_from_level, p_to_level,
            p_severity, p_actor, p_note, p_req)
$$;

-- Set (or reset) a deadline `hours` from now.
CREATE FUNCTION deadline_set(p_id text, p_kind text, p_hours int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO complaint_deadlines(complaint_id, kind, due_at, next_check_at)
    VALUES (p_id, p_kind, svc_now() + make_interval(hours => p_hours),
            svc_now() + make_interval(hours => p_hours))
    ON CONFLICT (complaint_id, kind) DO UPDATE
        SET due_at = EXCLUDED.due_at, next_check_at = EXCLUDED.next_check_at, met_at = NULL,
            escalations = 0
$$;

CREATE FUNCTION deadline_meet(p_id text, p_kind text) RETURNS void
LANGUAGE sql AS $$
    UPDATE complaint_deadlines SET met_at = svc_now(), next_check_at = NULL
    WHERE complaint_id = p_id AND kind = p_kind AND met_at IS NULL
$$;

CREATE FUNCTION complaint_overdue(c complaints) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM complaint_deadlines d
                   WHERE d.complaint_id = c.id AND d.met_at IS NULL AND d.due_at <= svc_now())
$$;

CREATE FUNCTION complaint_json(c complaints, p_history boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
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
            FROM complaint_history h WHERE h.complaint_id = c.id) END))
$$;

-- Insert a complaint with its deadlines and first history row. The caller has checked scope.
CREATE FUNCTION complaint_create(p_req text, p_principal jsonb, p_channel text, p_ticket text,
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
    RETURN c;
END $$;

-- Move a complaint one or more levels up (to p_to) and publish ComplaintEscalated.
CREATE FUNCTION complaint_escalate(c complaints, p_to text, p_reason text, p_deadline text,
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
CREATE FUNCTION escalate_due() RETURNS int
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
CREATE FUNCTION next_check_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT greatest(0, ceil(extract(epoch FROM min(next_check_at) - svc_now()) * 1000))::bigint
    FROM complaint_deadlines WHERE next_check_at IS NOT NULL
$$;

-- ---- callback helpers ------------------------------------------------------------------------

CREATE FUNCTION response_json(r responses, p_complaint text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', r.id, 'attitude', r.attitude, 'repair_quality', r.repair_quality,
        'timeliness', r.timeliness, 'price', r.price, 'facilities', r.facilities, 'nps', r.nps,
        'comment', r.comment, 'weight_version', r.weight_version,
        'weighted_score', milli_text(r.weighted_milli), 'answered_at', ts_text(r.answered_at),
        'answered_by', r.answered_by, 'low', r.low, 'complaint_id', p_complaint))
$$;

CREATE FUNCTION callback_json(cb callbacks, p_full boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
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
            FROM responses r WHERE r.callback_id = cb.id) END))
$$;

-- Lock a callback the caller may see; another centre's is indistinguishable from a missing one.
CREATE FUNCTION callback_for_update(p_principal jsonb, p_id text) RETURNS callbacks
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks;
BEGIN
    SELECT * INTO cb FROM callbacks WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, cb.center, cb.region) THEN
        PERFORM fail(404, 'not_found', format('callback %s not found', p_id));
    END IF;
    RETURN cb;
END $$;

CREATE FUNCTION callback_attempt_add(cb callbacks, p_result text, p_principal jsonb,
                                     p_note text, p_req text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO callback_attempts(callback_id, attempt, at, result, by_, note, request_id)
    VALUES (cb.id, cb.attempts + 1, svc_now(), p_result, actor(p_principal), p_note, p_req)
$$;

-- ---- events in -------------------------------------------------------------------------------

-- intake.TicketClosed: schedule the satisfaction callback, once per ticket (a replay finds the
-- row and does nothing). Due `callback_delay_h` after the close, moved into business hours.
CREATE FUNCTION on_ticket_closed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_closed timestamptz := coalesce((e->>'closed_at')::timestamptz,
                                     CASE WHEN e->>'closed_date' IS NOT NULL
                                          THEN day_start((e->>'closed_date')::date) + interval '12 hours' END,
                                     svc_now());
    v_due timestamptz := into_business_hours(v_closed
                             + make_interval(hours => setting('callback_delay_h')::int));
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN; -- nothing to call about
    END IF;
    IF EXISTS (SELECT 1 FROM callbacks WHERE ticket_id = e->>'ticket_id') THEN
        RETURN; -- a replay: the callback is already scheduled (the UNIQUE key guards as well)
    END IF;
    INSERT INTO callbacks(id, ticket_id, center, region, customer_name, customer_phone,
                          category, brand, outcome, closed_at, first_due_at, due_at,
                          max_attempts, created_at, updated_at)
    VALUES ('CB' || lpad(nextval('callback_no')::text, 8, '0'), e->>'ticket_id', e->>'center',
            coalesce(e->>'region', (SELECT region FROM centers WHERE code = e->>'center')),
            e#>>'{customer,name}', e#>>'{customer,phone}', e->>'category', e->>'brand',
            e->>'outcome', v_closed, v_due, v_due, setting('callback_max_attempts')::int,
            svc_now(), svc_now())
    ON CONFLICT (ticket_id) DO NOTHING;
END $$;

-- ---- commands: callbacks ---------------------------------------------------------------------

CREATE FUNCTION cmd_list_due(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_date date := coalesce((a->>'date')::date, svc_today());
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 200), 1), 500);
    v_rows jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(callback_json(x, false) ORDER BY (x).due_at, (x).id), '[]') INTO v_rows
    FROM (SELECT cb FROM callbacks cb
          WHERE cb.state = 'scheduled' AND cb.due_at < day_start(v_date + 1)
            AND may_see(p_principal, cb.center, cb.region)
            AND (a->>'center' IS NULL OR cb.center = a->>'center')
          ORDER BY cb.due_at, cb.id LIMIT v_limit) s(x);
    RETURN jsonb_build_object('status', 200, 'body',
                              jsonb_build_object('callbacks', v_rows, 'date', v_date::text));
END $$;

CREATE FUNCTION cmd_get_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks;
BEGIN
    SELECT * INTO cb FROM callbacks WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see(p_principal, cb.center, cb.region) THEN
        PERFORM fail(404, 'not_found', format('callback %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', callback_json(cb, true));
END $$;

CREATE FUNCTION callback_illegal(cb callbacks, p_what text) RETURNS void
LANGUAGE sql AS $$
    SELECT fail(409, 'illegal_transition',
                format('callback %s is %s; only a scheduled callback can be %s', cb.id, cb.state, p_what))
$$;

-- The customer answered: record the scores once, weighted with the set in effect today; a low
-- score opens a complaint linked to the ticket (at most one per ticket).
CREATE FUNCTION cmd_answer_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
    w weight_sets := weight_set_on(svc_today());
    r responses;
    c complaints;
    v_s int[] := ARRAY[(a->>'attitude')::int, (a->>'repair_quality')::int,
                       (a->>'timeliness')::int, (a->>'price')::int, (a->>'facilities')::int];
    v_milli int;
    v_low boolean;
    v_cause text;
    v_min int;
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'answered');
    END IF;
    IF w.version IS NULL THEN
        PERFORM fail(500, 'no_weights', 'no weight set is in effect today');
    END IF;
    v_milli := v_s[1] * w.attitude + v_s[2] * w.repair_quality + v_s[3] * w.timeliness
             + v_s[4] * w.price + v_s[5] * w.facilities;
    v_min := least(v_s[1], v_s[2], v_s[3], v_s[4], v_s[5]);
    v_low := v_milli < setting('low_score_milli') OR v_min <= setting('low_dimension');
    PERFORM callback_attempt_add(cb, 'answered', p_principal, NULL, p_req);
    UPDATE callbacks SET state = 'answered', attempts = attempts + 1, updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    INSERT INTO responses(id, callback_id, ticket_id, center, region, attitude, repair_quality,
                          timeliness, price, facilities, nps, comment, weight_version,
                          weighted_milli, low, answered_at, answered_date, answered_by)
    VALUES ('R' || lpad(nextval('response_no')::text, 8, '0'), cb.id, cb.ticket_id, cb.center,
            cb.region, v_s[1], v_s[2], v_s[3], v_s[4], v_s[5], (a->>'nps')::int,
            nullif(a->>'comment', ''), w.version, v_milli, v_low, svc_now(), svc_today(),
            actor(p_principal))
    RETURNING * INTO r;
    PERFORM audit_write(p_principal, p_req, 'answer', 'callback', cb.id,
                        jsonb_build_object('response', r.id, 'weighted_milli', v_milli,
                                           'weight_version', w.version, 'low', v_low));
    IF v_low AND NOT EXISTS (SELECT 1 FROM complaints WHERE ticket_id = cb.ticket_id AND source = 'survey') THEN
        -- The cause is the weakest dimension (first in the order asked, on a tie).
        v_cause := CASE v_min WHEN v_s[1] THEN 'attitude' WHEN v_s[2] THEN 'repair_quality'
                              WHEN v_s[3] THEN 'overdue' WHEN v_s[4] THEN 'price' ELSE 'other' END;
        c := complaint_create(p_req, p_principal, 'survey', cb.ticket_id, cb.center,
                              cb.region, v_cause,
                              format('low satisfaction score %s (weights v%s); lowest %s = %s%s',
                                     milli_text(v_milli), w.version, v_cause, v_min,
                                     coalesce(': ' || nullif(a->>'comment', ''), '')),
                              cb.customer_name, cb.customer_phone, 'survey', r.id);
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', callback_json(cb, true));
END $$;

CREATE FUNCTION cmd_refuse_callback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'refused');
    END IF;
    PERFORM callback_attempt_add(cb, 'refused', p_principal, a->>'note', p_req);
    UPDATE callbacks SET state = 'refused', attempts = attempts + 1, updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    PERFORM audit_write(p_principal, p_req, 'refuse', 'callback', cb.id, '{}');
    RETURN jsonb_build_object('status', 200, 'body', callback_json(cb, true));
END $$;

-- Nobody answered: try again `callback_retry_h` business hours later, until the callback's
-- attempts are used up; then it closes as unreachable.
CREATE FUNCTION cmd_mark_unreachable(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cb callbacks := callback_for_update(p_principal, a->>'id');
BEGIN
    IF cb.state <> 'scheduled' THEN
        PERFORM callback_illegal(cb, 'marked unreachable');
    END IF;
    PERFORM callback_attempt_add(cb, 'unreachable', p_principal, a->>'note', p_req);
    UPDATE callbacks
    SET attempts = attempts + 1,
        state = CASE WHEN attempts + 1 >= max_attempts THEN 'unreachable' ELSE 'scheduled' END,
        due_at = CASE WHEN attempts + 1 >= max_attempts THEN due_at
                      ELSE business_add(svc_now(), setting('callback_retry_h')::int) END,
        updated_at = svc_now()
    WHERE id = cb.id AND state = 'scheduled' RETURNING * INTO cb;
    PERFORM audit_write(p_principal, p_req, 'unreachable', 'callback', cb.id,
                        jsonb_build_object('attempts', cb.attempts, 'state', cb.state));
    RETURN jsonb_build_object('status', 200, 'body', callback_json(cb, true));
END $$;

-- ---- commands: weights -----------------------------------------------------------------------

CREATE FUNCTION cmd_add_weight_set(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    w weight_sets;
    v_from date := (a->>'effective_from')::date;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may change the survey weights');
    END IF;
    IF v_from < svc_today() THEN
        PERFORM fail(422, 'effective_in_past',
                     format('a weight set takes effect today (%s) or later; scores already given keep their weights', svc_today()));
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('surveys.weight_sets'));
    INSERT INTO weight_sets(version, effective_from, attitude, repair_quality, timeliness, price,
                            facilities, note, created_at, created_by)
    VALUES ((SELECT coalesce(max(version), 0) + 1 FROM weight_sets), v_from,
            (a->>'attitude')::int, (a->>'repair_quality')::int, (a->>'timeliness')::int,
            (a->>'price')::int, (a->>'facilities')::int, nullif(a->>'note', ''), svc_now(),
            actor(p_principal))
    RETURNING * INTO w;
    PERFORM audit_write(p_principal, p_req, 'add', 'weight_set', w.version::text, weight_set_json(w));
    RETURN jsonb_build_object('status', 201, 'body', weight_set_json(w));
END $$;

CREATE FUNCTION cmd_list_weight_sets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'weight_sets', (SELECT coalesce(jsonb_agg(weight_set_json(w) ORDER BY w.version), '[]')
                        FROM weight_sets w),
        'current_version', (weight_set_on(svc_today())).version))
$$;

-- ---- commands: satisfaction report -----------------------------------------------------------

-- Per centre or region, over business dates [from, to]: responses answered in the range (mean
-- weighted score of the stored scores, NPS), and the response rate of the callbacks first due in
-- the range (answered / due). Scores are read as stored: a new weight set changes nothing here.
CREATE FUNCTION cmd_satisfaction_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_group text := coalesce(a->>'group', 'center');
    v_to date := coalesce((a->>'to')::date, svc_today());
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_group NOT IN ('center', 'region') THEN
        PERFORM fail(400, 'bad_group', 'group is center or region');
    END IF;
    IF v_from > v_to THEN
        PERFORM fail(400, 'bad_range', 'from is after to');
    END IF;
    WITH resp AS (
        SELECT CASE v_group WHEN 'center' THEN r.center ELSE coalesce(r.region, '-') END AS k,
               r.weighted_milli, r.nps
        FROM responses r
        WHERE r.answered_date BETWEEN v_from AND v_to AND may_see(p_principal, r.center, r.region)),
    due AS (
        SELECT CASE v_group WHEN 'center' THEN cb.center ELSE coalesce(cb.region, '-') END AS k,
               cb.state
        FROM callbacks cb
        WHERE cb.first_due_at >= day_start(v_from) AND cb.first_due_at < day_start(v_to + 1)
          AND may_see(p_principal, cb.center, cb.region)),
    keys AS (SELECT k FROM resp UNION SELECT k FROM due),
    rows_ AS (
        SELECT keys.k,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k)::int AS n,
               (SELECT avg(weighted_milli) FROM resp WHERE resp.k = keys.k) AS avg_milli,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps >= 9)::int AS pro,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps BETWEEN 7 AND 8)::int AS pas,
               (SELECT count(*) FROM resp WHERE resp.k = keys.k AND nps <= 6)::int AS det,
               (SELECT count(*) FROM due WHERE due.k = keys.k)::int AS due_n,
               (SELECT count(*) FROM due WHERE due.k = keys.k AND due.state = 'answered')::int AS ans
        FROM keys)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', k, 'responses', n,
               'weighted_score', CASE WHEN n > 0 THEN milli_text(avg_milli) END,
               'nps', CASE WHEN n > 0 THEN round(100.0 * (pro - det) / n, 1)::text END,
               'promoters', pro, 'passives', pas, 'detractors', det,
               'callbacks_due', due_n, 'answered', ans,
               'response_rate', CASE WHEN due_n > 0 THEN round(ans::numeric / due_n, 3)::text END))
               ORDER BY k), '[]')
    INTO v_rows FROM rows_;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'group', v_group, 'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
END $$;

-- ---- commands: complaints --------------------------------------------------------------------

CREATE FUNCTION complaint_for_update(p_principal jsonb, p_id text) RETURNS complaints
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

CREATE FUNCTION complaint_illegal(c complaints, p_what text, p_from text) RETURNS void
LANGUAGE sql AS $$
    SELECT fail(409, 'illegal_transition',
                format('complaint %s is in state %s; %s needs %s', c.id, c.state, p_what, p_from))
$$;

CREATE FUNCTION complaint_reply(p_id text, p_status int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', p_status, 'body', complaint_json(c, true))
    FROM complaints c WHERE c.id = p_id
$$;

CREATE FUNCTION cmd_open_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_role text := p_principal->>'role';
    c complaints;
BEGIN
    IF v_center IS NULL AND v_role = 'center' THEN
        v_center := p_principal->>'site'; -- a desk takes complaints for its own centre
    END IF;
    IF v_center IS NULL AND a->>'ticket_id' IS NOT NULL THEN
        SELECT center INTO v_center FROM callbacks WHERE ticket_id = a->>'ticket_id';
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
                          nullif(a->>'customer_name', ''), nullif(a->>'customer_phone', ''),
                          'manual', NULL);
    RETURN complaint_reply(c.id, 201);
END $$;

CREATE FUNCTION cmd_get_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
BEGIN
    SELECT * INTO c FROM complaints WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see(p_principal, c.center, c.region) THEN
        PERFORM fail(404, 'not_found', format('complaint %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', complaint_json(c, true));
END $$;

CREATE FUNCTION cmd_list_complaints(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    SELECT coalesce(jsonb_agg(complaint_json(page.c, false) ORDER BY (page.c).created_at DESC, (page.c).id DESC), '[]'),
           count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'complaints', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

CREATE FUNCTION cmd_acknowledge_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    RETURN complaint_reply(c.id, 200);
END $$;

CREATE FUNCTION cmd_resolve_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    RETURN complaint_reply(c.id, 200);
END $$;

-- Closing needs the outcome of the follow-up call to the customer.
CREATE FUNCTION cmd_close_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    RETURN complaint_reply(c.id, 200);
END $$;

-- Reopen a resolved or closed complaint: it must be acknowledged and resolved again, on fresh
-- deadlines; owner and level stay.
CREATE FUNCTION cmd_reopen_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    RETURN complaint_reply(c.id, 200);
END $$;

-- Severity only goes up. A raise tightens the pending deadlines (never loosens them), adds the
-- written-report deadline for serious, and moves the complaint up to the new severity's
-- starting level (an escalation, published).
CREATE FUNCTION cmd_raise_severity(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    RETURN complaint_reply(c.id, 200);
END $$;

CREATE FUNCTION cmd_file_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c complaints := complaint_for_update(p_principal, a->>'id');
BEGIN
    UPDATE complaints SET report = a->>'report', updated_at = svc_now() WHERE id = c.id;
    PERFORM deadline_meet(c.id, 'report');
    PERFORM history_add(c.id, 'report_filed', NULL, NULL, NULL, NULL, NULL, actor(p_principal),
                        left(a->>'report', 200), p_req);
    PERFORM audit_write(p_principal, p_req, 'report', 'complaint', c.id, '{}');
    RETURN complaint_reply(c.id, 200);
END $$;

-- First-contact responsibility: the owner changes only by escalation or by head office.
CREATE FUNCTION cmd_assign_complaint(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE FUNCTION cmd_list_overdue(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
    SELECT coalesce(jsonb_agg(complaint_json(od.c, false) ORDER BY od.first_due, (od.c).id), '[]')
    INTO v_rows FROM od;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('complaints', v_rows));
END $$;

-- Complaints created in [from, to] per cause, severity or centre: how many, how many closed, and
-- the mean and median hours from creation to (the latest) close.
CREATE FUNCTION cmd_complaint_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_group text := coalesce(a->>'group', 'cause');
    v_to date := coalesce((a->>'to')::date, svc_today());
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_group NOT IN ('cause', 'severity', 'center') THEN
        PERFORM fail(400, 'bad_group', 'group is cause, severity or center');
    END IF;
    IF v_from > v_to THEN
        PERFORM fail(400, 'bad_range', 'from is after to');
    END IF;
    WITH x AS (
        SELECT CASE v_group WHEN 'cause' THEN c.cause WHEN 'severity' THEN c.severity
                            ELSE coalesce(c.center, '-') END AS k,
               c.state, c.escalations,
               CASE WHEN c.closed_at IS NOT NULL
                    THEN extract(epoch FROM c.closed_at - c.created_at)::numeric / 3600 END AS h
        FROM complaints c
        WHERE c.created_at >= day_start(v_from) AND c.created_at < day_start(v_to + 1)
          AND may_see(p_principal, c.center, c.region)),
    g AS (
        SELECT k, count(*)::int AS n, count(h)::int AS closed, avg(h) AS avg_h,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY h) AS med_h,
               count(*) FILTER (WHERE escalations > 0)::int AS esc,
               count(*) FILTER (WHERE state <> 'closed')::int AS open_
        FROM x GROUP BY k)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', k, 'count', n, 'closed', closed,
               'avg_hours_to_close', round(avg_h, 1)::text,
               'median_hours_to_close', round(med_h::numeric, 1)::text,
               'escalated', esc, 'open', open_)) ORDER BY k), '[]')
    INTO v_rows FROM g;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'group', v_group, 'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
END $$;

-- ---- commands: the test clock ----------------------------------------------------------------

CREATE FUNCTION clock_json(p_escalated int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'now', ts_text(svc_now()), 'offset_s', setting('clock_offset_s'),
        'test_mode', setting('test_mode') <> 0, 'escalated', p_escalated))
$$;

-- Test mode only: move the service clock forward by a.seconds (>= 0).
CREATE FUNCTION cmd_advance_clock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_s bigint := coalesce((a->>'seconds')::bigint, 0);
BEGIN
    IF setting('test_mode') = 0 THEN
        PERFORM fail(403, 'test_mode_off', 'the clock can be moved only when the service runs in test mode');
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'service') THEN
        PERFORM fail(403, 'forbidden', 'only head office may move the test clock');
    END IF;
    IF v_s < 0 OR v_s > 10 * 365 * 86400 THEN
        PERFORM fail(400, 'bad_seconds', 'seconds is between 0 and ten years');
    END IF;
    UPDATE settings SET value = value + v_s WHERE name = 'clock_offset_s';
    PERFORM audit_write(p_principal, p_req, 'advance_clock', 'clock', NULL,
                        jsonb_build_object('seconds', v_s));
    RETURN jsonb_build_object('status', 200, 'body', clock_json(NULL));
END $$;
