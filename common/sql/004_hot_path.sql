-- The runtime's hot path, made cheaper. Nothing here changes what the functions do.
--
-- PostgreSQL 15 keeps no plan for a LANGUAGE sql function it cannot inline: the body is parsed
-- and planned again on every call made from a new statement or (sub)transaction, which is every
-- call here (exec_batch runs each command in its own subtransaction). PL/pgSQL keeps its plans
-- for the life of the connection. Dynamic SQL (EXECUTE) is planned on every call too, so commands
-- are dispatched by a generated CASE instead.

CREATE OR REPLACE FUNCTION audit_write(p_principal jsonb, p_request_id text, p_action text,
                                       p_entity text, p_entity_id text, p_detail jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit(principal, request_id, action, entity, entity_id, detail)
    VALUES (coalesce(p_principal, '{}'), p_request_id, p_action, p_entity, p_entity_id,
            coalesce(p_detail, '{}'));
END $$;

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

-- Record that sequences p_first..p_last are applied, in one statement each for the position and
-- the proof rows; refuses unless p_first is the next one. A consumer batch of many events costs
-- one call instead of one per event.
CREATE FUNCTION consumer_advance_range(p_stream text, p_first bigint, p_last bigint)
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

-- (Re)generate dispatch_command(): a CASE over this schema's command functions
-- cmd_<verb>(text, jsonb, jsonb) RETURNS jsonb, so each call is planned once per connection. A
-- name it does not list (a function created after the last rebuild) falls back to EXECUTE. The
-- migration runner calls this after the last migration, under the schema's migration lock; it
-- replaces the function only when the list changed.
CREATE FUNCTION rebuild_dispatch() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_cases text;
    v_src text;
    v_old text;
BEGIN
    SELECT string_agg(format('WHEN %L THEN RETURN %I(p_req, p_principal, p_args);',
                             p.proname, p.proname), E'\n        ' ORDER BY p.proname)
      INTO v_cases
      FROM pg_proc p
     WHERE p.pronamespace = current_schema()::regnamespace
       AND p.proname LIKE 'cmd\_%'
       AND oidvectortypes(p.proargtypes) = 'text, jsonb, jsonb'
       AND p.prorettype = 'jsonb'::regtype
       AND NOT p.proretset;
    v_src := format(E'\nDECLARE\n    r jsonb;\nBEGIN\n    CASE p_fn\n        %s\n        ELSE\n'
                    || E'            EXECUTE format(''SELECT %%I($1, $2, $3)'', p_fn) INTO r\n'
                    || E'                USING p_req, p_principal, p_args;\n'
                    || E'            RETURN r;\n    END CASE;\nEND ',
                    coalesce(v_cases, 'WHEN NULL THEN RETURN NULL;'));
    SELECT prosrc INTO v_old FROM pg_proc
     WHERE oid = to_regprocedure('dispatch_command(text,text,jsonb,jsonb)');
    IF v_old IS DISTINCT FROM v_src THEN
        EXECUTE format('CREATE OR REPLACE FUNCTION dispatch_command(p_fn text, p_req text, '
                       'p_principal jsonb, p_args jsonb) RETURNS jsonb LANGUAGE plpgsql AS %L',
                       v_src);
    END IF;
END $$;

SELECT rebuild_dispatch();

-- As 003_reads.sql, dispatching through dispatch_command().
CREATE OR REPLACE FUNCTION exec_command(p_request_id text, p_fn text, p_principal jsonb, p_args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    SELECT reply INTO r FROM commands WHERE request_id = p_request_id;
    IF FOUND THEN
        RETURN r || '{"replayed": true}';
    END IF;
    r := dispatch_command(p_fn, p_request_id, p_principal, p_args);
    IF coalesce((r->>'nostore')::boolean, false) THEN
        RETURN r - 'nostore';
    END IF;
    INSERT INTO commands(request_id, command, reply) VALUES (p_request_id, p_fn, r);
    RETURN r;
END $$;

-- As 002_batch.sql, without a subtransaction per command. A subtransaction is cheap to open but
-- each one that writes takes its own transaction id, and every later row lock, tuple visibility
-- check and commit pays for the set (measured: about 200 us per ticket opened, a third of the
-- cost). So the batch runs as one segment in one subtransaction. When command j raises, the
-- segment rolls back; j gets its error, the commands of the segment before it are run again,
-- each in its own subtransaction as before, and a new segment starts after j. The replies, the
-- stored idempotency rows and the effects are what running the commands one by one in order
-- would give (j failed against the state the commands before it left, and changed nothing); a
-- failing command costs re-running the commands before it in its segment.
CREATE OR REPLACE FUNCTION exec_batch(p_batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    cmds jsonb[] := ARRAY(SELECT value FROM jsonb_array_elements(p_batch));
    n int := jsonb_array_length(p_batch);
    replies jsonb[] := array_fill(NULL::jsonb, ARRAY[n]);
    i int := 1; -- first command of the current segment
    j int;      -- the command being run
    k int;
    v_state text;
    v_msg text;
    v_detail text;
BEGIN
    WHILE i <= n LOOP
        j := i;
        BEGIN
            WHILE j <= n LOOP
                replies[j] := exec_command(cmds[j]->>'r', cmds[j]->>'f', cmds[j]->'p', cmds[j]->'a');
                j := j + 1;
            END LOOP;
            i := n + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                                    v_detail = PG_EXCEPTION_DETAIL;
            replies[j] := jsonb_build_object('error', jsonb_build_object(
                'sqlstate', v_state, 'message', v_msg, 'detail', coalesce(v_detail, '')));
        END;
        IF i <= n THEN
            -- Command j failed and took i..j-1 with it: run those again, each in its own
            -- subtransaction (the safe way; this is the rare path), then go on after j.
            FOR k IN i .. j - 1 LOOP
                BEGIN
                    replies[k] := exec_command(cmds[k]->>'r', cmds[k]->>'f', cmds[k]->'p', cmds[k]->'a');
                EXCEPTION WHEN OTHERS THEN
                    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                                            v_detail = PG_EXCEPTION_DETAIL;
                    replies[k] := jsonb_build_object('error', jsonb_build_object(
                        'sqlstate', v_state, 'message', v_msg, 'detail', coalesce(v_detail, '')));
                END;
            END LOOP;
            i := j + 1;
        END IF;
    END LOOP;
    RETURN to_jsonb(replies);
END $$;
