-- The runtime objects every service schema holds: idempotent commands, the transactional
-- outbox with gap-free per-stream sequences, the consumer positions, and the audit trail.
-- Applied by each service into its own schema (search_path is that schema), before the
-- service's own migrations (numbered from 100).

-- One row per answered command: the request id is the idempotency key and the stored reply is
-- what a repeated request gets back.
CREATE TABLE commands (
    request_id text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 127),
    command    text NOT NULL,
    reply      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Per stream: the last sequence handed out (in the emitting transaction) and the last one the
-- relay has published.
CREATE TABLE outbox_streams (
    stream        text PRIMARY KEY,
    last_seq      bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    published_seq bigint NOT NULL DEFAULT 0 CHECK (published_seq >= 0 AND published_seq <= last_seq)
);

CREATE TABLE outbox (
    stream      text NOT NULL REFERENCES outbox_streams(stream),
    seq         bigint NOT NULL CHECK (seq > 0),
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    request_id  text,
    trace_id    text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, seq)
);

-- Consumed streams: the last sequence applied, advanced in the same transaction as the effect.
CREATE TABLE consumer_offsets (
    stream     text PRIMARY KEY,
    last_seq   bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    applied_at timestamptz
);

-- Every (stream, sequence) applied, once: the proof the invariant checker reads.
CREATE TABLE consumer_applied (
    stream     text NOT NULL,
    seq        bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, seq)
);

-- Who changed what, when, from which request.
CREATE TABLE audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    principal  jsonb NOT NULL DEFAULT '{}',
    request_id text,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_entity ON audit (entity, entity_id);

