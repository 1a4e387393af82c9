-- Many commands in one transaction: the server groups the SQL-backed commands that arrive
-- together and runs them here, each in its own subtransaction, so one command's error rolls
-- back only that command and the batch costs one commit. Returns one reply per command, in
-- order: exec_command()'s reply, or {"error": {sqlstate, message, detail}}.
CREATE FUNCTION exec_batch(p_batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c jsonb;
    r jsonb;
    replies jsonb[] := '{}';
    v_state text;
    v_msg text;
    v_detail text;
BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(p_batch) LOOP
        BEGIN
            r := exec_command(c->>'r', c->>'f', c->'p', c->'a');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                                    v_detail = PG_EXCEPTION_DETAIL;
            r := jsonb_build_object('error', jsonb_build_object(
                'sqlstate', v_state, 'message', v_msg, 'detail', coalesce(v_detail, '')));
        END;
        replies := replies || r;
    END LOOP;
    RETURN to_jsonb(replies);
END $$;
