-- intake: centres, tickets, their timeline, and device repair history.

CREATE TABLE regions (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE centers (
    code   text PRIMARY KEY,
    name   text NOT NULL,
    region text NOT NULL REFERENCES regions(code)
);

-- Which manufacturer stands behind a brand (warranty claims go to it).
CREATE TABLE brands (
    brand        text PRIMARY KEY,
    manufacturer text NOT NULL
);

CREATE SEQUENCE ticket_no;

CREATE TABLE tickets (
    id             text PRIMARY KEY,
    center         text NOT NULL REFERENCES centers(code),
    region         text NOT NULL REFERENCES regions(code),
    state          text NOT NULL CHECK (state IN ('received', 'adjudicated', 'awaiting_review',
                        'estimate_pending', 'in_repair', 'awaiting_parts', 'ready', 'closed',
                        'cancelled', 'declined', 'refunded', 'exchanged')),
    customer_name  text NOT NULL,
    customer_phone text NOT NULL,
    category       text NOT NULL,
    device         jsonb NOT NULL,
    purchase       jsonb NOT NULL,
    fault          jsonb NOT NULL,
    flags          jsonb NOT NULL DEFAULT '{}',
    request        text NOT NULL CHECK (request IN ('refund', 'exchange', 'repair')),
    claim_date     date NOT NULL,
    extra          jsonb NOT NULL DEFAULT '{}',
    device_key     text,            -- IMEI, else VIN, else brand/serial: who the device is
    repeat_repair  boolean NOT NULL DEFAULT false,
    warnings       text[] NOT NULL DEFAULT '{}',
    decision       jsonb,
    manufacturer   text,
    work           jsonb NOT NULL DEFAULT '{}',
    opened_at      timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz
);
CREATE INDEX tickets_center_opened ON tickets (center, opened_at DESC, id DESC);
CREATE INDEX tickets_device ON tickets (device_key);
CREATE INDEX tickets_phone ON tickets (customer_phone);
CREATE INDEX tickets_state ON tickets (state);

CREATE TABLE ticket_timeline (
    id         bigserial PRIMARY KEY,
    ticket_id  text NOT NULL REFERENCES tickets(id),
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text NOT NULL,
    event      text NOT NULL,
    actor      text NOT NULL,
    note       text,
    request_id text
);
CREATE INDEX ticket_timeline_ticket ON ticket_timeline (ticket_id, id);

-- Completed repairs per device, counted by the warranty rules (M-5, C-5, C-6).
CREATE TABLE device_repairs (
    ticket_id      text PRIMARY KEY REFERENCES tickets(id),
    device_key     text NOT NULL,
    dropped_off    date NOT NULL,
    returned       date NOT NULL,
    hours          int NOT NULL CHECK (hours >= 0),
    problem        text NOT NULL,
    listed         boolean NOT NULL,
    serious_safety boolean NOT NULL DEFAULT false
);
CREATE INDEX device_repairs_device ON device_repairs (device_key, returned);

