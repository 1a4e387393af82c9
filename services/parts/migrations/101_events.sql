-- parts: what the service does with intake's events (stream "intake"). Each handler runs in the
-- transaction that advances the stream position, and is idempotent by construction on top of
-- that: a ticket line reserves at most once (primary key), a ticket completes or cancels once
-- (guarded state), so calling a handler twice with the same payload changes nothing.

-- Events that could not be applied because their content is wrong (bad data, a broken
-- invariant). They are set aside here, with the error, instead of blocking the stream forever;
-- transient failures (deadlocks, lost connections) are not caught and are simply retried.
CREATE TABLE event_failures (
    id          bigserial PRIMARY KEY,
    stream      text NOT NULL,
    seq         bigint NOT NULL,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    sqlstate    text NOT NULL,
    error       text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (stream, seq)
);

