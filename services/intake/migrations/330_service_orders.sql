-- intake: on-site service orders and the technicians who do them (issue 19.3; decision record
-- 0026 says why they live in intake). An order is a visit to the customer's address: an
-- appointment window, a technician chosen by skill (device category) and region, dispatch,
-- check-in and check-out, the work done, the distance driven (which settlement prices as the
-- travel fee) and the customer's confirmation. Every order promises a response: a technician on
-- site within `order_response_h` (24) hours of the request, escalated like the tickets' promises.
-- Functions: services/intake/sql/visits.sql.

INSERT INTO settings(name, value) VALUES ('order_response_h', 24) ON CONFLICT (name) DO NOTHING;

CREATE TABLE technicians (
    login      text PRIMARY KEY CHECK (length(login) BETWEEN 1 AND 64),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    center     text NOT NULL REFERENCES centers(code),
    skills     text[] NOT NULL DEFAULT '{}',
    active     boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);
CREATE INDEX technicians_center ON technicians (center);

CREATE SEQUENCE service_order_no;

CREATE TABLE service_orders (
    id              text PRIMARY KEY,
    state           text NOT NULL CHECK (state IN ('requested', 'scheduled', 'dispatched', 'on_site',
                                                   'done', 'confirmed', 'cancelled')),
    center          text NOT NULL REFERENCES centers(code),
    region          text REFERENCES regions(code),
    customer_name   text NOT NULL,
    customer_phone  text NOT NULL,
    address         text NOT NULL,
    category        text NOT NULL,
    brand           text,
    model           text,
    serial          text,
    manufacturer    text,
    fault           text NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL CHECK (window_end > window_start),
    ticket_id       text REFERENCES tickets(id),
    call_id         text,
    technician      text REFERENCES technicians(login),
    dispatched_at   timestamptz,
    checked_in_at   timestamptz,
    checked_out_at  timestamptz,
    work_done       text,
    distance_km     numeric(7, 1) CHECK (distance_km BETWEEN 0 AND 2000),
    parts_used      jsonb NOT NULL DEFAULT '[]',
    payer           text CHECK (payer IN ('customer', 'manufacturer')),
    confirmed_by    text,
    signature       text,
    rating          int CHECK (rating BETWEEN 1 AND 5),
    confirmed_at    timestamptz,
    cancel_reason   text,
    note            text,
    -- the response promise: a technician on site by respond_by
    respond_by      timestamptz NOT NULL,
    response_h      int NOT NULL,
    response_met_at timestamptz,          -- the clock stopped: checked in, or cancelled
    promise_level   text NOT NULL DEFAULT 'desk'
        CHECK (promise_level IN ('desk', 'centre_manager', 'region')),
    promise_next_check_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    request_id      text
);
CREATE INDEX service_orders_created ON service_orders (created_at DESC, id DESC);
CREATE INDEX service_orders_technician ON service_orders (technician, window_start);
CREATE INDEX service_orders_ticket ON service_orders (ticket_id);
CREATE INDEX service_orders_promise_check ON service_orders (promise_next_check_at)
    WHERE promise_next_check_at IS NOT NULL;

CREATE TABLE service_order_timeline (
    id         bigserial PRIMARY KEY,
    order_id   text NOT NULL REFERENCES service_orders(id),
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text NOT NULL,
    event      text NOT NULL,
    actor      text NOT NULL,
    note       text
);
CREATE INDEX service_order_timeline_order ON service_order_timeline (order_id, id);

ALTER TABLE calls ADD COLUMN service_order_id text REFERENCES service_orders(id);
