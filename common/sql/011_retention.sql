-- Nothing grows without bound: stored command replies and outbox rows are pruned on a timer
-- inside each service (service.c calls prune_runtime() every prune_interval_ms, in batches of
-- prune_batch rows). See docs/operations.md ("Retention") and
-- docs/decisions/0012-retention-and-consumer-positions.md.

-- Pruning command replies by age needs an index on the age.
CREATE INDEX IF NOT EXISTS commands_created_at ON commands (created_at);

-- Where each consumer of this service's stream says it is: the last sequence it has applied.
-- Learned from the consumer's replay requests (a consumer asks "from sequence N" when it starts,
-- when it sees a gap and after a second of silence; N - 1 is what it has applied). A consumer is
-- registered by its first report; its position only moves forward.
CREATE TABLE IF NOT EXISTS outbox_consumers (
    stream      text NOT NULL,
    consumer    text NOT NULL,
    applied_seq bigint NOT NULL CHECK (applied_seq >= 0),
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, consumer)
);

CREATE FUNCTION note_consumer_position(p_stream text, p_consumer text, p_applied bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_consumer IS NULL OR p_consumer = '' OR p_applied IS NULL OR p_applied < 0 THEN
        RETURN;
    END IF;
    -- never beyond what was committed: a position past the head is not believed
    p_applied := least(p_applied, coalesce((SELECT last_seq FROM outbox_streams
                                            WHERE stream = p_stream), 0));
    INSERT INTO outbox_consumers(stream, consumer, applied_seq)
        VALUES (p_stream, p_consumer, p_applied)
        ON CONFLICT (stream, consumer) DO UPDATE
           SET applied_seq = greatest(outbox_consumers.applied_seq, EXCLUDED.applied_seq),
               reported_at = now();
END $$;

-- One pruning round; returns how many rows went, per kind.
--   commands: a keyed reply (request id "k:…", an Idempotency-Key) is kept p_reply_days; any
--             other reply only p_keyless_minutes — long enough for the bus client's retries of
--             the same request id (they stop at the request's deadline), not longer;
--   outbox:   a row goes when it is older than p_outbox_days, published, and applied by every
--             registered consumer of its stream (a stream without any registered consumer keeps
--             everything). Its personal data goes with it.
-- At most p_batch rows of each kind per round, so a round is a short transaction.
CREATE FUNCTION prune_runtime(p_batch int, p_reply_days int, p_keyless_minutes int,
                              p_outbox_days int)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_cmds int := 0;
    v_outbox int := 0;
    v_n int;
    s record;
BEGIN
    DELETE FROM commands WHERE ctid IN (
        SELECT ctid FROM commands
         WHERE created_at < now() - make_interval(mins => p_keyless_minutes)
           AND (request_id NOT LIKE 'k:%' OR created_at < now() - make_interval(days => p_reply_days))
         LIMIT p_batch);
    GET DIAGNOSTICS v_cmds = ROW_COUNT;
    FOR s IN
        SELECT os.stream, least(os.published_seq, min(c.applied_seq)) AS upto
          FROM outbox_streams os JOIN outbox_consumers c ON c.stream = os.stream
         GROUP BY os.stream, os.published_seq
    LOOP
        EXIT WHEN v_outbox >= p_batch;
        DELETE FROM outbox WHERE (stream, seq) IN (
            SELECT stream, seq FROM outbox
             WHERE stream = s.stream AND seq <= s.upto
               AND occurred_at < now() - make_interval(days => p_outbox_days)
             ORDER BY seq LIMIT p_batch - v_outbox);
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_outbox := v_outbox + v_n;
    END LOOP;
    RETURN jsonb_build_object('commands', v_cmds, 'outbox', v_outbox);
END $$;
