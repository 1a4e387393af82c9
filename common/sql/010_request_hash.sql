-- An idempotency key answers for one request only. Each stored reply keeps a hash of the request
-- it answered (command, caller, arguments); a later request with the same id is answered from the
-- store only when its hash is the same. Otherwise it is refused with 422 idempotency_key_reused —
-- never given another request's reply (a key reused for a different body, or the same id sent by
-- a different caller). Rows stored before this migration have no hash and replay as before.
--
-- Two requests with one id that run at the same time: the second one's INSERT waits for the
-- first transaction; when that commits, the second is refused with 409 in_progress (its own
-- effects are rolled back), and a retry gets the stored answer.
ALTER TABLE commands ADD COLUMN request_hash text;

-- The canonical request: jsonb's text form is canonical (keys sorted, no spaces), so the same
-- request always hashes the same. The intake service's server-computed "warnings" are not part
-- of what the caller sent and are left out.
CREATE FUNCTION request_hash(p_fn text, p_principal jsonb, p_args jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(p_fn || E'\n' || coalesce(p_principal, '{}'::jsonb)::text || E'\n'
               || coalesce(p_args - 'warnings', '{}'::jsonb)::text)
$$;

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
    IF coalesce((r->>'nostore')::boolean, false) THEN
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
