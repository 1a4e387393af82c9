-- Reads are not stored as command replies: a command function may mark its reply
-- "nostore" (queries), and exec_command() then answers without recording it. Writes are stored
-- as before, so a repeated request id still gets the first answer.
CREATE OR REPLACE FUNCTION exec_command(p_request_id text, p_fn text, p_principal jsonb, p_args jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    SELECT reply INTO r FROM commands WHERE request_id = p_request_id;
    IF FOUND THEN
        RETURN r || '{"replayed": true}';
    END IF;
    EXECUTE format('SELECT %I($1, $2, $3)', p_fn) INTO r USING p_request_id, p_principal, p_args;
    IF coalesce((r->>'nostore')::boolean, false) THEN
        RETURN r - 'nostore';
    END IF;
    INSERT INTO commands(request_id, command, reply) VALUES (p_request_id, p_fn, r);
    RETURN r;
END $$;

-- The phone number as people without a need to call see it: all but the last four digits masked.
CREATE FUNCTION mask_phone(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p IS NULL THEN NULL
                WHEN length(p) <= 4 THEN p
                ELSE repeat('*', length(p) - 4) || right(p, 4) END
$$;
