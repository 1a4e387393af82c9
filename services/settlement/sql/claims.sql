-- settlement: claims functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION claim_line_needs_return(l claim_lines) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN l.kind = 'part' AND (l.return_required OR EXISTS (
        SELECT 1 FROM returns_owed o
        WHERE o.ticket_id = l.ticket_id AND o.sku = l.code
          AND (o.line_no IS NULL OR l.part_line_no IS NULL OR o.line_no = l.part_line_no)));
END $$;

CREATE OR REPLACE FUNCTION claim_line_returned(l claim_lines) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT claim_line_needs_return(l) OR coalesce((
        SELECT sum(r.qty) FROM defective_returns r
        WHERE r.ticket_id = l.ticket_id AND r.sku = l.code
          AND (r.line_no IS NULL OR l.part_line_no IS NULL OR r.line_no = l.part_line_no)), 0) >= l.qty;
END $$;

-- The open batch for (manufacturer, period), created when there is none; locked until commit.
CREATE OR REPLACE FUNCTION open_claim(p_mfr text, p_period text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_batch int;
BEGIN
    SELECT id INTO v_id FROM claims WHERE manufacturer = p_mfr AND period = p_period
        AND state = 'open' FOR UPDATE;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    SELECT coalesce(max(batch), 0) + 1 INTO v_batch FROM claims
        WHERE manufacturer = p_mfr AND period = p_period;
    v_id := format('CLM-%s-%s-%s', p_mfr, p_period, lpad(v_batch::text, 2, '0'));
    INSERT INTO claims(id, manufacturer, period, batch, currency)
        VALUES (v_id, p_mfr, p_period, v_batch, currency());
    RETURN v_id;
END $$;

-- settlement: claim_recount() recounts again. 101 made it a no-op because the claim_lines
-- triggers keep claims.claimed_cents; its only caller left is cmd_submit_claim (once per claim,
-- after moving lines that wait for their defective part to the next claim), where an O(lines)
-- recount costs nothing that matters and guards the total against any path that bypassed the
-- triggers. The hot path (charge_repair, once per repair) no longer calls it.
CREATE OR REPLACE FUNCTION claim_recount(p_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claims SET claimed_cents = (SELECT coalesce(sum(claimed_cents), 0) FROM claim_lines
                                       WHERE claim_id = p_id)
    WHERE id = p_id
      AND claimed_cents <> (SELECT coalesce(sum(claimed_cents), 0) FROM claim_lines
                            WHERE claim_id = p_id);
END $$;

CREATE OR REPLACE FUNCTION claim_line_json(l claim_lines) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'line_no', l.line_no, 'ticket_id', l.ticket_id, 'center', l.center, 'kind', l.kind,
        'code', l.code, 'description', l.description, 'qty', l.qty,
        'claimed_cents', l.claimed_cents, 'approved_cents', l.approved_cents, 'state', l.state,
        'reason', l.reason, 'return_required', claim_line_needs_return(l),
        'returned', CASE WHEN claim_line_needs_return(l) THEN claim_line_returned(l) END,
        'business_date', l.business_date::text, 'charge_line_no', l.charge_line_no));
END $$;

CREATE OR REPLACE FUNCTION claim_json(c claims, p_lines boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'manufacturer', c.manufacturer, 'period', c.period, 'batch', c.batch,
        'state', c.state, 'currency', c.currency, 'claimed_cents', c.claimed_cents,
        'approved_cents', c.approved_cents, 'paid_cents', c.paid_cents,
        'lines', CASE WHEN p_lines THEN (
            SELECT coalesce(jsonb_agg(claim_line_json(l) ORDER BY l.line_no), '[]')
            FROM claim_lines l WHERE l.claim_id = c.id) END,
        'created_at', ts_text(c.created_at), 'submitted_at', ts_text(c.submitted_at),
        'decided_at', ts_text(c.decided_at), 'paid_at', ts_text(c.paid_at),
        'paid_date', c.paid_date::text, 'reference', c.reference,
        'waiting_lines', CASE WHEN c.state = 'open' THEN (
            SELECT coalesce(jsonb_agg(l.line_no ORDER BY l.line_no), '[]') FROM claim_lines l
            WHERE l.claim_id = c.id AND NOT claim_line_returned(l)) END,
        'line_count', (SELECT count(*) FROM claim_lines l WHERE l.claim_id = c.id)));
END $$;

CREATE OR REPLACE FUNCTION cmd_submit_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    w record;
    v_waiting int[];
    v_first claim_lines;
    v_next text;
    v_left int;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state <> 'open' THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    END IF;
    SELECT array_agg(l.line_no ORDER BY l.line_no) INTO v_waiting FROM claim_lines l
        WHERE l.claim_id = c.id AND NOT claim_line_returned(l);
    IF v_waiting IS NOT NULL AND NOT coalesce((a->>'defer_waiting')::boolean, false) THEN
        SELECT * INTO v_first FROM claim_lines WHERE claim_id = c.id AND line_no = v_waiting[1];
        PERFORM fail(409, 'defective_return_missing', format(
            'claim line %s (ticket %s, part %s) cannot be submitted before its defective part is returned%s',
            v_first.line_no, v_first.ticket_id, v_first.code,
            CASE WHEN cardinality(v_waiting) > 1
                 THEN format('; lines waiting: %s', array_to_string(v_waiting, ', ')) ELSE '' END));
    END IF;
    SELECT count(*) INTO v_left FROM claim_lines
        WHERE claim_id = c.id AND NOT (line_no = ANY (coalesce(v_waiting, '{}')));
    IF v_left = 0 THEN
        PERFORM fail(409, 'empty_claim', format('claim %s has no line that can be submitted', c.id));
    END IF;
    UPDATE claims SET state = 'submitted', submitted_at = now() WHERE id = c.id AND state = 'open';
    IF v_waiting IS NOT NULL THEN
        -- The waiting lines move to the next batch of the same manufacturer and month.
        v_next := open_claim(c.manufacturer, c.period);
        FOR w IN SELECT l.line_no, row_number() OVER (ORDER BY l.line_no) AS rn
                 FROM claim_lines l WHERE l.claim_id = c.id AND l.line_no = ANY (v_waiting) LOOP
            UPDATE claim_lines SET claim_id = v_next,
                line_no = (SELECT coalesce(max(line_no), 0) + 1 FROM claim_lines WHERE claim_id = v_next)
                WHERE claim_id = c.id AND line_no = w.line_no;
        END LOOP;
        PERFORM claim_recount(v_next);
        PERFORM claim_recount(c.id);
    END IF;
    UPDATE claim_lines SET state = 'submitted' WHERE claim_id = c.id AND state = 'open';
    SELECT * INTO c FROM claims WHERE id = c.id;
    PERFORM audit_write(p_principal, p_req, 'submit', 'claim', c.id,
                        jsonb_build_object('claimed_cents', c.claimed_cents, 'deferred_lines',
                                           to_jsonb(v_waiting), 'deferred_to', v_next));
    PERFORM emit('settlement', 'settlement.ClaimSubmitted', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period,
        'lines', (SELECT count(*) FROM claim_lines WHERE claim_id = c.id),
        'claimed_cents', c.claimed_cents, 'currency', c.currency), p_req);
    RETURN jsonb_build_object('status', 200, 'body',
                              claim_json(c, true) || jsonb_strip_nulls(jsonb_build_object('deferred_to', v_next)));
END $$;

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

CREATE OR REPLACE FUNCTION cmd_pay_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    v_paid bigint;
    v_date date;
    v_entry bigint;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state NOT IN ('approved', 'partially_approved') THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    END IF;
    v_paid := coalesce((a->>'paid_cents')::bigint, c.approved_cents);
    IF v_paid <= 0 OR v_paid > c.approved_cents THEN
        PERFORM fail(422, 'bad_amount', format('paid_cents must be 1..%s (the approved amount)',
                                               c.approved_cents));
    END IF;
    v_date := coalesce((a->>'paid_date')::date, today_sh());
    IF v_date > today_sh() THEN
        PERFORM fail(422, 'future_date', 'paid_date is in the future');
    END IF;
    UPDATE claims SET state = 'paid', paid_cents = v_paid, paid_date = v_date, paid_at = now(),
                      reference = nullif(a->>'reference', '')
        WHERE id = c.id AND state IN ('approved', 'partially_approved') RETURNING * INTO c;
    UPDATE claim_lines SET state = 'paid'
        WHERE claim_id = c.id AND state IN ('approved', 'partially_approved');
    -- Cash in; a short payment is written off.
    v_entry := post_entry('claim-payment:' || c.id, 'claim_payment', v_date,
        format('payment of claim %s%s', c.id, coalesce(' ref ' || c.reference, '')),
        jsonb_build_array(
            jsonb_build_object('account', '1001', 'debit', v_paid, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer),
            jsonb_build_object('account', '6602', 'debit', c.approved_cents - v_paid,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer),
            jsonb_build_object('account', '1123', 'credit', c.approved_cents,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer)),
        NULL, NULL, c.id, NULL, p_principal, p_req);
    PERFORM audit_write(p_principal, p_req, 'pay', 'claim', c.id, jsonb_build_object(
        'paid_cents', v_paid, 'paid_date', v_date, 'entry', v_entry));
    PERFORM emit('settlement', 'settlement.ClaimPaid', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period,
        'paid_cents', v_paid, 'paid_date', v_date::text, 'reference', c.reference), p_req);
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

CREATE OR REPLACE FUNCTION read_claim(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c claims;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id';
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

CREATE OR REPLACE FUNCTION read_claims(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_rows jsonb;
    v_n int;
BEGIN
    PERFORM require_finance(p_principal);
    WITH page AS (
        SELECT c FROM claims c
        WHERE (a->>'manufacturer' IS NULL OR c.manufacturer = a->>'manufacturer')
          AND (a->>'period' IS NULL OR c.period = a->>'period')
          AND (a->>'state' IS NULL OR c.state = a->>'state')
          AND (a->>'after' IS NULL OR c.id > a->>'after')
        ORDER BY c.id LIMIT v_limit)
    SELECT coalesce(jsonb_agg(claim_json(page.c, false) ORDER BY (page.c).id), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'claims', v_rows, 'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

-- A claim's claimed_cents is the sum of its lines' claimed_cents. Every change of a line adjusts
-- its claim by the difference: an insert adds, a delete subtracts, a line moving to another claim
-- (cmd_submit_claim defers lines waiting for a defective part to the next batch) leaves one and
-- joins the other. Inserts are counted per statement (charge_repair inserts all of a ticket's
-- claim lines with one INSERT: one UPDATE of the claim, not one per line); moves, changes and
-- deletes row by row (PostgreSQL gives no transition tables to a trigger on named columns), so
-- each step keeps claimed_cents >= 0 and the CHECK approved_cents <= claimed_cents sees the
-- same totals a full recount would.
CREATE OR REPLACE FUNCTION claim_lines_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        UPDATE claims c SET claimed_cents = c.claimed_cents + a.total
        FROM (SELECT n.claim_id, sum(n.claimed_cents) AS total FROM claim_lines_added n
              GROUP BY n.claim_id) a
        WHERE c.id = a.claim_id AND a.total <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE claims SET claimed_cents = claimed_cents - OLD.claimed_cents
            WHERE id = OLD.claim_id AND OLD.claimed_cents <> 0;
    ELSIF NEW.claim_id = OLD.claim_id THEN
        UPDATE claims SET claimed_cents = claimed_cents + (NEW.claimed_cents - OLD.claimed_cents)
            WHERE id = NEW.claim_id AND NEW.claimed_cents <> OLD.claimed_cents;
    ELSE
        UPDATE claims SET claimed_cents = claimed_cents - OLD.claimed_cents
            WHERE id = OLD.claim_id AND OLD.claimed_cents <> 0;
        UPDATE claims SET claimed_cents = claimed_cents + NEW.claimed_cents
            WHERE id = NEW.claim_id AND NEW.claimed_cents <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER claim_lines_total_insert AFTER INSERT ON claim_lines
    REFERENCING NEW TABLE AS claim_lines_added
    FOR EACH STATEMENT EXECUTE FUNCTION claim_lines_total();

CREATE OR REPLACE TRIGGER claim_lines_total AFTER UPDATE OF claim_id, claimed_cents OR DELETE ON claim_lines
    FOR EACH ROW EXECUTE FUNCTION claim_lines_total();

-- PayClaim with paid_amount ("175.00") instead of paid_cents: the same command.
CREATE OR REPLACE FUNCTION cmd_pay_claim_amount(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
