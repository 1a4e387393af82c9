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
