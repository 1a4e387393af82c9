-- Traces into the outbox (issue 20.2). Every event row records the trace of the request (or of
-- the event) that caused it, so the relay publishes it in the envelope and a consumer's log
-- line carries it. The trace travels in the transaction-local setting as.trace_id: exec_batch
-- sets it from each command's "t" before running that command, a consumer sets it from the
-- event it applies; the outbox column takes it by default (NULL when unset), so emit() and the
-- command functions stay as they are.
ALTER TABLE outbox ALTER COLUMN trace_id SET DEFAULT nullif(current_setting('as.trace_id', true), '');

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
