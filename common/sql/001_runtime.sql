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

-- Raise a client-facing error: status is the HTTP-like status (400..599), code a short
-- machine-readable word, message one sentence. The transaction is rolled back, so a command
-- that fails changes nothing.
CREATE FUNCTION fail(status int, code text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'AS' || status::text, MESSAGE = code, DETAIL = message;
END $$;

-- Append an event to the outbox; returns its sequence. The UPDATE takes the stream's row lock
-- until commit, so sequences commit in order and without gaps.
CREATE FUNCTION emit(p_stream text, p_type text, p_payload jsonb, p_request_id text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    INSERT INTO outbox_streams(stream) VALUES (p_stream) ON CONFLICT DO NOTHING;
    UPDATE outbox_streams SET last_seq = last_seq + 1 WHERE stream = p_stream
        RETURNING last_seq INTO s;
    INSERT INTO outbox(stream, seq, type, payload, request_id)
        VALUES (p_stream, s, p_type, jsonb_strip_nulls(p_payload), p_request_id);
    RETURN s;
END $$;

-- Record that (stream, seq) is applied; refuses unless it is the next one.
CREATE FUNCTION consumer_advance(p_stream text, p_seq bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE consumer_offsets SET last_seq = p_seq, applied_at = now()
        WHERE stream = p_stream AND last_seq = p_seq - 1;
    IF NOT FOUND THEN
        PERFORM fail(409, 'out_of_order', format('stream %s is not at %s', p_stream, p_seq - 1));
    END IF;
    INSERT INTO consumer_applied(stream, seq) VALUES (p_stream, p_seq);
END $$;

-- Run command function p_fn(request_id, principal, args) once per request id. A repeated id
-- gets the stored reply, marked "replayed". Errors raised inside roll everything back and are
-- not stored (nothing was done, so a retry may succeed).
CREATE FUNCTION exec_command(p_request_id text, p_fn text, p_principal jsonb, p_args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    SELECT reply INTO r FROM commands WHERE request_id = p_request_id;
    IF FOUND THEN
        RETURN r || '{"replayed": true}';
    END IF;
    EXECUTE format('SELECT %I($1, $2, $3)', p_fn) INTO r USING p_request_id, p_principal, p_args;
    INSERT INTO commands(request_id, command, reply) VALUES (p_request_id, p_fn, r);
    RETURN r;
END $$;

-- Audit helper.
CREATE FUNCTION audit_write(p_principal jsonb, p_request_id text, p_action text, p_entity text,
                            p_entity_id text, p_detail jsonb DEFAULT '{}')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (coalesce(p_principal, '{}'), p_request_id, p_action, p_entity, p_entity_id,
            coalesce(p_detail, '{}'));
$$;
