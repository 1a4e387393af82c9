-- settlement: claim decisions in yuan, and correctable until the claim is paid.
--
-- Amounts are never ambiguous: every amount field is either *_cents (integer cents) or
-- *_amount (a string of yuan with exactly two decimals, "50.00"); giving both for the same
-- amount is refused (400, in the service). A decided claim (approved, partially approved or
-- rejected) may be decided again with `correction_reason` until it is paid: the lines named
-- are changed (the others keep their decision, unless approve_others), the ledger follows the
-- difference (claim-correction:<claim>:<n>: 1123 against 6602), ClaimDecided is published
-- again, and the audit row keeps the reason with every line before and after.

CREATE OR REPLACE FUNCTION cmd_decide_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    l claim_lines;
    d jsonb;
    v_approved bigint;
    v_state text;
    v_reason text;
    v_missing int[] := '{}';
    v_unknown int;
    v_dup int;
    v_total_ok bigint;
    v_claimed bigint;
    v_entry bigint;
    v_correction text := nullif(btrim(a->>'correction_reason'), '');
    v_before jsonb;
    v_prev_ok bigint;
    v_n int;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state IN ('approved', 'partially_approved', 'rejected') AND v_correction IS NULL THEN
        PERFORM fail(409, 'illegal_transition',
                     format('claim %s is in state %s: it is decided; to correct the decision, give correction_reason',
                            c.id, c.state));
    ELSIF c.state NOT IN ('submitted', 'approved', 'partially_approved', 'rejected') THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    ELSIF c.state = 'submitted' AND v_correction IS NOT NULL THEN
        PERFORM fail(409, 'illegal_transition',
                     format('claim %s is not decided yet: there is no decision to correct', c.id));
    END IF;
    -- A correction changes the lines it names (and, with approve_others, approves the rest);
    -- the others keep their decision.
    v_prev_ok := coalesce(c.approved_cents, 0);
    SELECT jsonb_agg(jsonb_build_object('line_no', line_no, 'state', state,
                                        'approved_cents', approved_cents, 'reason', reason)
                     ORDER BY line_no)
        INTO v_before FROM claim_lines WHERE claim_id = c.id;
    -- Amounts in yuan ("50.00") are the same as cents: never both, never ambiguous.
    SELECT min((x->>'line_no')::int) INTO v_unknown FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
        WHERE x ? 'approved_amount' AND x->>'approved_amount' !~ '^[0-9]{1,12}\.[0-9]{2}$';
    IF v_unknown IS NOT NULL THEN
        PERFORM fail(400, 'bad_amount', format('line %s: approved_amount is yuan with two decimals, e.g. "50.00"', v_unknown));
    END IF;
    v_unknown := NULL;
    SELECT min((x->>'line_no')::int) INTO v_unknown FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
        WHERE NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                          AND line_no = (x->>'line_no')::int);
    IF v_unknown IS NOT NULL THEN
        PERFORM fail(422, 'unknown_line', format('claim %s has no line %s', c.id, v_unknown));
    END IF;
    SELECT min(n) INTO v_dup FROM (SELECT (x->>'line_no')::int AS n FROM
        jsonb_array_elements(coalesce(a->'lines', '[]')) x GROUP BY 1 HAVING count(*) > 1) t;
    IF v_dup IS NOT NULL THEN
        PERFORM fail(422, 'duplicate_line', format('line %s is decided twice', v_dup));
    END IF;
    FOR l IN SELECT * FROM claim_lines WHERE claim_id = c.id ORDER BY line_no LOOP
        SELECT x INTO d FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
            WHERE (x->>'line_no')::int = l.line_no;
        v_reason := nullif(btrim(d->>'reason'), '');
        IF d IS NULL AND v_correction IS NOT NULL
           AND NOT coalesce((a->>'approve_others')::boolean, false) THEN
            CONTINUE; -- a correction leaves the lines it does not name as they were
        END IF;
        IF d IS NULL THEN
            IF NOT coalesce((a->>'approve_others')::boolean, false) THEN
                v_missing := v_missing || l.line_no;
                CONTINUE;
            END IF;
            v_approved := l.claimed_cents;
        ELSIF d->>'approved' = 'false' THEN
            v_approved := 0;
        ELSE
            v_approved := coalesce((d->>'approved_cents')::bigint,
                                   round((d->>'approved_amount')::numeric * 100)::bigint,
                                   l.claimed_cents);
        END IF;
        IF v_approved > l.claimed_cents THEN
            PERFORM fail(422, 'over_approved', format('line %s: %s approved but %s claimed',
                                                      l.line_no, v_approved, l.claimed_cents));
        END IF;
        v_state := CASE WHEN v_approved = l.claimed_cents AND l.claimed_cents > 0 THEN 'approved'
                        WHEN v_approved = 0 AND l.claimed_cents > 0 THEN 'rejected'
                        WHEN l.claimed_cents = 0 THEN 'approved'
                        ELSE 'partially_approved' END;
        IF v_state IN ('rejected', 'partially_approved') AND v_reason IS NULL THEN
            PERFORM fail(422, 'reason_required', format('line %s is %s: give the reason', l.line_no,
                                                        replace(v_state, '_', ' ')));
        END IF;
        UPDATE claim_lines SET state = v_state, approved_cents = v_approved, reason = v_reason
            WHERE claim_id = c.id AND line_no = l.line_no
              AND state IN ('submitted', 'approved', 'partially_approved', 'rejected');
    END LOOP;
    IF cardinality(v_missing) > 0 THEN
        PERFORM fail(422, 'undecided_lines', format(
            'lines %s have no decision (decide every line, or set approve_others)',
            array_to_string(v_missing, ', ')));
    END IF;
    SELECT coalesce(sum(approved_cents), 0), coalesce(sum(claimed_cents), 0) INTO v_total_ok, v_claimed
        FROM claim_lines WHERE claim_id = c.id;
    v_state := CASE WHEN NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                                     AND state <> 'approved') THEN 'approved'
                    WHEN NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                                     AND state <> 'rejected') THEN 'rejected'
                    ELSE 'partially_approved' END;
    UPDATE claims SET state = v_state, approved_cents = v_total_ok, decided_at = now()
        WHERE id = c.id AND state IN ('submitted', 'approved', 'partially_approved', 'rejected')
        RETURNING * INTO c;
    IF v_correction IS NOT NULL THEN
        -- The ledger follows the difference: more approved moves it from the write-off (6602)
        -- to the receivable (1123); less moves it back.
        SELECT count(*) + 1 INTO v_n FROM journal_entries
            WHERE claim_id = c.id AND source_key LIKE 'claim-correction:%';
        v_entry := post_entry(format('claim-correction:%s:%s', c.id, v_n), 'claim_decision', today_sh(),
            format('corrected decision on claim %s (%s): %s', c.id, v_state, v_correction),
            jsonb_build_array(
                jsonb_build_object('account', '1123', 'debit', greatest(v_total_ok - v_prev_ok, 0),
                                   'credit', greatest(v_prev_ok - v_total_ok, 0),
                                   'payer', 'manufacturer', 'manufacturer', c.manufacturer),
                jsonb_build_object('account', '6602', 'debit', greatest(v_prev_ok - v_total_ok, 0),
                                   'credit', greatest(v_total_ok - v_prev_ok, 0),
                                   'payer', 'manufacturer', 'manufacturer', c.manufacturer)),
            NULL, NULL, c.id, NULL, p_principal, p_req);
        PERFORM audit_write(p_principal, p_req, 'correct_decision', 'claim', c.id, jsonb_build_object(
            'reason', v_correction, 'state', v_state, 'approved_cents_before', v_prev_ok,
            'approved_cents', v_total_ok, 'claimed_cents', v_claimed, 'entry', v_entry,
            'lines_before', v_before,
            'lines_after', (SELECT jsonb_agg(jsonb_build_object('line_no', line_no, 'state', state,
                                                'approved_cents', approved_cents, 'reason', reason)
                                             ORDER BY line_no)
                            FROM claim_lines WHERE claim_id = c.id)));
        PERFORM emit('settlement', 'settlement.ClaimDecided', jsonb_build_object(
            'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period, 'state', v_state,
            'claimed_cents', v_claimed, 'approved_cents', v_total_ok), p_req);
        RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
    END IF;
    -- Approved amounts become receivable; rejected ones are written off.
    v_entry := post_entry('claim-decision:' || c.id, 'claim_decision', today_sh(),
        format('manufacturer decision on claim %s (%s)', c.id, v_state),
        jsonb_build_array(
            jsonb_build_object('account', '1123', 'debit', v_total_ok, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer),
            jsonb_build_object('account', '6602', 'debit', v_claimed - v_total_ok,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer),
            jsonb_build_object('account', '1124', 'credit', v_claimed, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer)),
        NULL, NULL, c.id, NULL, p_principal, p_req);
    PERFORM audit_write(p_principal, p_req, 'decide', 'claim', c.id, jsonb_build_object(
        'state', v_state, 'approved_cents', v_total_ok, 'claimed_cents', v_claimed, 'entry', v_entry));
    PERFORM emit('settlement', 'settlement.ClaimDecided', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period, 'state', v_state,
        'claimed_cents', v_claimed, 'approved_cents', v_total_ok), p_req);
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

-- PayClaim with paid_amount ("175.00") instead of paid_cents: the same command.
CREATE FUNCTION cmd_pay_claim_amount(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF a ? 'paid_amount' THEN
        IF a->>'paid_amount' !~ '^[0-9]{1,12}\.[0-9]{2}$' THEN
            PERFORM fail(400, 'bad_amount', 'paid_amount is yuan with two decimals, e.g. "175.00"');
        END IF;
        a := (a - 'paid_amount') || jsonb_build_object(
                 'paid_cents', round((a->>'paid_amount')::numeric * 100)::bigint);
    END IF;
    RETURN cmd_pay_claim(p_req, p_principal, a);
END $$;
