-- notify: integrators' webhooks and the pull feed of events.
--
-- The consumer (main.c) hands every event of the streams it follows to on_event() in the
-- transaction that advances the stream position, so each event is recorded once: a row of the
-- feed (`events`) and one durable delivery row per matching webhook (`deliveries`). The sender
-- (deliver.c) posts pending deliveries in order per webhook and stream and records each answer
-- here; a delivery acknowledged with a 2xx is never sent again.

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO settings(name, value) VALUES
    ('retry_base_ms', 1000), ('retry_max_s', 3600), ('max_attempts', 20);

-- ---- scope and personal data (as the other services' reads) --------------------------------

-- ---- the events ------------------------------------------------------------------------------

-- Which centre and region a ticket belongs to, from intake's TicketOpened: events of other
-- streams that name only the ticket are scoped through it.
CREATE TABLE tickets (
    ticket_id text PRIMARY KEY,
    center    text NOT NULL,
    region    text
);

-- The feed: every event of the followed streams, once. `position` is the pull feed's cursor.
CREATE TABLE events (
    position    bigserial UNIQUE,
    stream      text NOT NULL,
    sequence    bigint NOT NULL,
    type        text NOT NULL,
    center      text,
    region      text,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    PRIMARY KEY (stream, sequence)
);
CREATE INDEX events_type ON events(type, position);

CREATE TABLE webhooks (
    id          text PRIMARY KEY,
    url         text NOT NULL,
    event_types text[] NOT NULL,
    secret      text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'reviewer', 'region', 'center')),
    center      text,
    region      text,
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'deleted')),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    CHECK ((role = 'center') = (center IS NOT NULL)),
    CHECK ((role = 'region') = (region IS NOT NULL))
);

-- One event to one webhook. `body` is the exact JSON posted (scoped and redacted when it was
-- queued); the sender signs it with a fresh timestamp at each attempt.
CREATE TABLE deliveries (
    id          bigserial PRIMARY KEY,
    webhook_id  text NOT NULL REFERENCES webhooks(id),
    stream      text NOT NULL,
    sequence    bigint NOT NULL,
    type        text NOT NULL,
    body        text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts    int NOT NULL DEFAULT 0,
    last_status int,
    last_error  text,
    next_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    redelivery  boolean NOT NULL DEFAULT false
);
CREATE INDEX deliveries_pending ON deliveries(webhook_id, stream, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, id);

-- Every attempt: the delivery log.
CREATE TABLE delivery_attempts (
    delivery_id bigint NOT NULL REFERENCES deliveries(id),
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      int NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- ---- the sender's side -----------------------------------------------------------------------

-- ---- commands --------------------------------------------------------------------------------

