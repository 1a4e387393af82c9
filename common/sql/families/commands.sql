-- common: commands functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Raise a client-facing error: status is the HTTP-like status (400..599), code a short
-- machine-readable word, message one sentence. The transaction is rolled back, so a command
-- that fails changes nothing.
CREATE OR REPLACE FUNCTION fail(status int, code text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'AS' || status::text, MESSAGE = code, DETAIL = message;
END $$;

CREATE OR REPLACE FUNCTION exec_command(p_request_id text, p_fn text, p_principal jsonb, p_args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    h text := request_hash(p_fn, p_principal, p_args);
    v_hash text;
BEGIN
    SELECT reply, request_hash INTO r, v_hash FROM commands WHERE request_id = p_request_id;
    IF FOUND THEN
        IF v_hash IS NOT NULL AND v_hash <> h THEN
            PERFORM fail(422, 'idempotency_key_reused',
                         'this idempotency key was already used for a different request (another '
                         'body, command or caller); use a new key for a new request');
        END IF;
        RETURN r || '{"replayed": true}';
    END IF;
    r := dispatch_command(p_fn, p_request_id, p_principal, p_args);
    -- A read's answer is not kept: it says "nostore", or it runs on the read connection (a READ
    -- ONLY transaction: exec_read_batch), where storing it would fail the read.
    IF coalesce((r->>'nostore')::boolean, false) OR current_setting('transaction_read_only') = 'on' THEN
        RETURN r - 'nostore';
    END IF;
    INSERT INTO commands(request_id, command, reply, request_hash)
        VALUES (p_request_id, p_fn, r, h)
        ON CONFLICT (request_id) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM fail(409, 'in_progress',
                     'a request with this idempotency key was being answered at the same time; '
                     'retry with the same key for its answer');
    END IF;
    RETURN r;
END $$;

-- exec_batch of 004_hot_path.sql, plus: each command runs with its trace id set.
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
                PERFORM set_config('as.trace_id', coalesce(cmds[j]->>'t', ''), true);
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
                    PERFORM set_config('as.trace_id', coalesce(cmds[k]->>'t', ''), true);
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

-- exec_batch on the read connection (decisions 25 and 31): the collection reads and reports sent
-- there run in a READ ONLY transaction, so one that tried to write fails with SQLSTATE 25006
-- instead of changing anything (exec_command keeps no reply there).
CREATE OR REPLACE FUNCTION exec_read_batch(p_batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('transaction_read_only', 'on', true);
    RETURN exec_batch(p_batch);
END $$;

-- (Re)generate dispatch_command(): a CASE over this schema's command functions
-- cmd_<verb>(text, jsonb, jsonb) RETURNS jsonb, so each call is planned once per connection. A
-- name it does not list (a function created after the last rebuild) falls back to EXECUTE. The
-- migration runner calls this after the last migration, under the schema's migration lock; it
-- replaces the function only when the list changed.
CREATE OR REPLACE FUNCTION rebuild_dispatch() RETURNS void
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

-- The canonical request: jsonb's text form is canonical (keys sorted, no spaces), so the same
-- request always hashes the same. The intake service's server-computed "warnings" are not part
-- of what the caller sent and are left out.
CREATE OR REPLACE FUNCTION request_hash(p_fn text, p_principal jsonb, p_args jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(p_fn || E'\n' || coalesce(p_principal, '{}'::jsonb)::text || E'\n'
               || coalesce(p_args - 'warnings', '{}'::jsonb)::text)
$$;

-- Reads through one wrapper: read_call('read_claim', principal, args) runs the read function and
-- turns an application error it raises with fail() (SQLSTATE class AS: 404 not found, 403, ...)
-- into {"error": {"sqlstate", "message", "detail"}} instead of failing the statement. A 404 is
-- an answer, not a fault: it must not appear as an ERROR in PostgreSQL's log (an error caught in
-- PL/pgSQL is not logged). Any other error propagates unchanged.
CREATE OR REPLACE FUNCTION read_call(p_fn text, p_principal jsonb, p_args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    v_state text;
    v_message text;
    v_detail text;
BEGIN
    -- Reads only: a read function that tried to write fails (SQLSTATE 25006) instead (decision 31).
    PERFORM set_config('transaction_read_only', 'on', true);
    EXECUTE format('SELECT %I($1, $2)::jsonb', p_fn) INTO r USING p_principal, p_args;
    RETURN r;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL;
    IF left(v_state, 2) <> 'AS' THEN
        RAISE;
    END IF;
    RETURN jsonb_build_object('error', jsonb_build_object(
        'sqlstate', v_state, 'message', v_message, 'detail', v_detail));
END $$;
