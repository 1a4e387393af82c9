-- common: outbox functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- The stream's row exists after its first event: try the UPDATE first (one statement instead of
-- two on every later event). The UPDATE still takes the row lock until commit, so sequences
-- commit in order and without gaps.
CREATE OR REPLACE FUNCTION emit(p_stream text, p_type text, p_payload jsonb,
                                p_request_id text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    UPDATE outbox_streams SET last_seq = last_seq + 1 WHERE stream = p_stream
        RETURNING last_seq INTO s;
    IF NOT FOUND THEN
        INSERT INTO outbox_streams(stream) VALUES (p_stream) ON CONFLICT DO NOTHING;
        UPDATE outbox_streams SET last_seq = last_seq + 1 WHERE stream = p_stream
            RETURNING last_seq INTO s;
    END IF;
    INSERT INTO outbox(stream, seq, type, payload, request_id)
        VALUES (p_stream, s, p_type, jsonb_strip_nulls(p_payload), p_request_id);
    RETURN s;
END $$;

-- Record that (stream, seq) is applied; refuses unless it is the next one.
CREATE OR REPLACE FUNCTION consumer_advance(p_stream text, p_seq bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE consumer_offsets SET last_seq = p_seq, applied_at = now()
        WHERE stream = p_stream AND last_seq = p_seq - 1;
    IF NOT FOUND THEN
        PERFORM fail(409, 'out_of_order', format('stream %s is not at %s', p_stream, p_seq - 1));
    END IF;
    INSERT INTO consumer_applied(stream, seq) VALUES (p_stream, p_seq);
END $$;

-- Record that sequences p_first..p_last are applied, in one statement each for the position and
-- the proof rows; refuses unless p_first is the next one. A consumer batch of many events costs
-- one call instead of one per event.
CREATE OR REPLACE FUNCTION consumer_advance_range(p_stream text, p_first bigint, p_last bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_last < p_first THEN
        PERFORM fail(400, 'bad_range', format('stream %s: %s..%s is empty', p_stream, p_first, p_last));
    END IF;
    UPDATE consumer_offsets SET last_seq = p_last, applied_at = now()
        WHERE stream = p_stream AND last_seq = p_first - 1;
    IF NOT FOUND THEN
        PERFORM fail(409, 'out_of_order', format('stream %s is not at %s', p_stream, p_first - 1));
    END IF;
    INSERT INTO consumer_applied(stream, seq)
        SELECT p_stream, g FROM generate_series(p_first, p_last) g;
END $$;

CREATE OR REPLACE FUNCTION note_consumer_position(p_stream text, p_consumer text, p_applied bigint)
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
CREATE OR REPLACE FUNCTION prune_runtime(p_batch int, p_reply_days int, p_keyless_minutes int,
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
