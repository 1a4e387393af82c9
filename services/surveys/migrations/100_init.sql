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

-- ---- business hours (09:00–18:00 Asia/Shanghai, every day) -----------------------------------

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

-- ---- callback helpers ------------------------------------------------------------------------

-- ---- events in -------------------------------------------------------------------------------

-- ---- commands: callbacks ---------------------------------------------------------------------

-- ---- commands: weights -----------------------------------------------------------------------

-- ---- commands: satisfaction report -----------------------------------------------------------

-- ---- commands: complaints --------------------------------------------------------------------

-- ---- commands: the test clock ----------------------------------------------------------------

