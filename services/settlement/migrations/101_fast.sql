-- settlement: the same functions, cheaper.
--
-- 1. PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
--    call parses and plans the body again. PL/pgSQL keeps its plans for the session. So every
--    SQL function on a command or event path that the planner cannot inline (a FROM clause, a
--    sub-select, several statements, a write) is redefined here in PL/pgSQL with the same
--    signature and the same results. Those that could be inlined but were declared IMMUTABLE
--    while their body is only STABLE (to_char, text -> date) are declared STABLE, and then inline.
-- 2. claims.claimed_cents is kept by a trigger on claim_lines (adjusted by the difference on
--    every insert, move, change or delete of a line) instead of claim_recount() summing every line
--    of the month's claim on each charge (O(lines) per charge, O(n^2) per month).
--    claim_recount() stays, as a no-op, for callers; charge_repair() no longer calls it.
-- 3. charge_repair(): one UPDATE of the charge set instead of two, one aggregate over the
--    ticket's lines instead of an aggregate plus an EXISTS, and the handling surcharge looked up
--    only when there are parts to price.

-- ---- inlined helpers: declared STABLE, as their bodies are --------------------------------

CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE OR REPLACE FUNCTION period_of(d date) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(d, 'YYYY-MM')
$$;

CREATE OR REPLACE FUNCTION period_start(p text) RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (p || '-01')::date
$$;

-- ---- settings and rate lookups ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION currency() RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT s.value INTO v FROM settings s WHERE s.name = 'currency';
    RETURN coalesce(v, 'CNY');
END $$;

CREATE OR REPLACE FUNCTION labour_rate(p_code text, p_category text, p_mfr text, p_date date)
RETURNS labour_rates LANGUAGE plpgsql STABLE AS $$
DECLARE
    r labour_rates;
BEGIN
    SELECT * INTO r FROM labour_rates lr
    WHERE lr.labour_code = p_code AND lr.category IN (coalesce(p_category, '*'), '*')
      AND lr.manufacturer IN (coalesce(p_mfr, '*'), '*') AND lr.effective_from <= p_date
    ORDER BY lr.manufacturer = '*', lr.category = '*', lr.effective_from DESC
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION part_price(p_sku text, p_date date) RETURNS parts_prices
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r parts_prices;
BEGIN
    SELECT * INTO r FROM parts_prices pp WHERE pp.sku = p_sku AND pp.effective_from <= p_date
    ORDER BY pp.effective_from DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION handling_bp(p_mfr text, p_date date) RETURNS int
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v int;
BEGIN
    SELECT ch.handling_bp INTO v FROM claim_handling ch
    WHERE ch.manufacturer IN (coalesce(p_mfr, '*'), '*') AND ch.effective_from <= p_date
    ORDER BY ch.manufacturer = '*', ch.effective_from DESC LIMIT 1;
    RETURN coalesce(v, 0);
END $$;

CREATE OR REPLACE FUNCTION vat_rate(p_date date) RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
    v int;
BEGIN
    SELECT vr.rate_bp INTO v FROM vat_rates vr WHERE vr.effective_from <= p_date
    ORDER BY vr.effective_from DESC LIMIT 1;
    RETURN coalesce(v, 1300);
END $$;

-- ---- writes --------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION reject_event(p_type text, e jsonb, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_rejects(type, ticket_id, reason, payload)
        VALUES (p_type, e->>'ticket_id', p_reason, e);
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'reject_event',
                        'event', e->>'ticket_id', jsonb_build_object('type', p_type, 'reason', p_reason));
END $$;

CREATE OR REPLACE FUNCTION emit_charged(cs charge_sets) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('settlement', 'settlement.Charged', jsonb_build_object(
        'ticket_id', cs.ticket_id, 'customer_cents', cs.customer_cents,
        'manufacturer_cents', cs.manufacturer_cents, 'company_cents', cs.company_cents,
        'invoice_no', cs.invoice_no, 'currency', cs.currency, 'seller_cents', cs.seller_cents,
        'center', cs.center, 'kind', cs.kind, 'incomplete', cs.incomplete));
END $$;

-- ---- claims: the claimed total kept by a trigger -----------------------------------------------

-- A claim's claimed_cents is the sum of its lines' claimed_cents. Every change of a line adjusts
-- its claim by the difference: an insert adds, a delete subtracts, a line moving to another claim
-- (cmd_submit_claim defers lines waiting for a defective part to the next batch) leaves one and
-- joins the other. Inserts are counted per statement (charge_repair inserts all of a ticket's
-- claim lines with one INSERT: one UPDATE of the claim, not one per line); moves, changes and
-- deletes row by row (PostgreSQL gives no transition tables to a trigger on named columns), so
-- each step keeps claimed_cents >= 0 and the CHECK approved_cents <= claimed_cents sees the
-- same totals a full recount would.
CREATE FUNCTION claim_lines_total() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER claim_lines_total_insert AFTER INSERT ON claim_lines
    REFERENCING NEW TABLE AS claim_lines_added
    FOR EACH STATEMENT EXECUTE FUNCTION claim_lines_total();
CREATE TRIGGER claim_lines_total AFTER UPDATE OF claim_id, claimed_cents OR DELETE ON claim_lines
    FOR EACH ROW EXECUTE FUNCTION claim_lines_total();

-- Kept for callers (cmd_submit_claim calls it after moving lines): the trigger keeps the total,
-- so there is nothing left to recount. It used to re-sum every line of the claim.
CREATE OR REPLACE FUNCTION claim_recount(p_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RETURN;
END $$;

-- Existing claims, recounted once (CREATE TRIGGER above holds a lock on claim_lines that keeps
-- writers out until this migration commits, so no line can slip between the two).
UPDATE claims c SET claimed_cents = s.total
FROM (SELECT c2.id, coalesce(sum(l.claimed_cents), 0) AS total
      FROM claims c2 LEFT JOIN claim_lines l ON l.claim_id = c2.id
      GROUP BY c2.id) s
WHERE c.id = s.id AND c.claimed_cents <> s.total;

-- ---- claim return checks ----------------------------------------------------------------------

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

-- ---- JSON shapes of the replies ---------------------------------------------------------------

CREATE OR REPLACE FUNCTION charge_line_json(l charge_lines) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'line_no', l.line_no, 'kind', l.kind, 'code', l.code, 'description', l.description,
        'qty', l.qty, 'unit_cents', l.unit_cents, 'amount_cents', l.amount_cents,
        'payer', l.payer, 'basis', l.basis,
        'cost_cents', CASE WHEN l.kind = 'part' THEN l.cost_cents END,
        'claim_id', cl.claim_id, 'claim_line_no', cl.line_no, 'part_line_no', l.part_line_no,
        'note', l.note))
    FROM (SELECT 1) one
    LEFT JOIN claim_lines cl ON cl.ticket_id = l.ticket_id AND cl.charge_line_no = l.line_no);
END $$;

CREATE OR REPLACE FUNCTION charge_set_json(cs charge_sets) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', cs.ticket_id, 'center', cs.center, 'region', cs.region, 'kind', cs.kind,
        'payer', cs.payer, 'warranty_status', cs.warranty_status, 'remedy', cs.remedy,
        'cause', cs.cause, 'category', cs.category, 'brand', cs.brand,
        'manufacturer', cs.manufacturer, 'business_date', cs.business_date::text,
        'currency', cs.currency, 'customer_cents', cs.customer_cents,
        'manufacturer_cents', cs.manufacturer_cents, 'company_cents', cs.company_cents,
        'seller_cents', cs.seller_cents, 'vat_cents', cs.vat_cents, 'vat_rate_bp', cs.vat_rate_bp,
        'invoice_no', cs.invoice_no, 'incomplete', cs.incomplete, 'notes', to_jsonb(cs.notes),
        'lines', (SELECT coalesce(jsonb_agg(charge_line_json(l) ORDER BY l.line_no), '[]')
                  FROM charge_lines l WHERE l.ticket_id = cs.ticket_id),
        'closed_outcome', cs.closed_outcome, 'closed_date', cs.closed_date::text,
        'entries', (SELECT coalesce(jsonb_agg(e.entry_no ORDER BY e.entry_no), '[]')
                    FROM journal_entries e WHERE e.ticket_id = cs.ticket_id)));
END $$;

CREATE OR REPLACE FUNCTION invoice_json(i invoices) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'invoice_no', i.invoice_no, 'ticket_id', i.ticket_id, 'center', i.center,
        'year', i.year, 'seq', i.seq, 'issue_date', i.issue_date::text,
        'net_cents', i.net_cents, 'vat_rate_bp', i.vat_rate_bp, 'vat_cents', i.vat_cents,
        'total_cents', i.total_cents, 'currency', i.currency,
        'lines', (SELECT coalesce(jsonb_agg(charge_line_json(l) ORDER BY l.line_no), '[]')
                  FROM charge_lines l WHERE l.ticket_id = i.ticket_id AND l.payer = 'customer'),
        'paid', p.entry_no IS NOT NULL, 'paid_date', p.business_date::text))
    FROM (SELECT 1) one
    LEFT JOIN journal_entries p ON p.source_key = 'payment:' || i.ticket_id);
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

CREATE OR REPLACE FUNCTION entry_json(e journal_entries) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'entry_no', e.entry_no, 'kind', e.kind, 'business_date', e.business_date::text,
        'posting_date', e.posting_date::text, 'posting_period', e.posting_period,
        'memo', e.memo, 'ticket_id', e.ticket_id, 'invoice_no', e.invoice_no,
        'claim_id', e.claim_id, 'reverses', e.reverses,
        'reversed_by', (SELECT r.entry_no FROM journal_entries r WHERE r.reverses = e.entry_no),
        'currency', e.currency, 'created_at', ts_text(e.created_at),
        'lines', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                      'line_no', l.line_no, 'account', l.account, 'account_name', a.name,
                      'debit_cents', l.debit_cents, 'credit_cents', l.credit_cents,
                      'ticket_id', l.ticket_id, 'center', l.center, 'region', l.region,
                      'manufacturer', l.manufacturer, 'payer', l.payer)) ORDER BY l.line_no), '[]')
                  FROM journal_lines l JOIN accounts a ON a.code = l.account
                  WHERE l.entry_no = e.entry_no)));
END $$;

CREATE OR REPLACE FUNCTION period_json(p periods) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'period', p.period, 'state', p.state, 'closed_at', ts_text(p.closed_at),
        'closed_by', p.closed_by,
        'entries', (SELECT count(*) FROM journal_entries e WHERE e.posting_period = p.period),
        'debit_cents', (SELECT coalesce(sum(l.debit_cents), 0) FROM journal_entries e
                        JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period),
        'credit_cents', (SELECT coalesce(sum(l.credit_cents), 0) FROM journal_entries e
                         JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period)));
END $$;

-- ---- charging a repair ------------------------------------------------------------------------

-- As in 100_init.sql, with three changes that leave every row, event and reply the same:
-- the handling surcharge is looked up only when the event lists parts (it prices nothing
-- else); the payer totals, VAT and invoice number go into the charge set with one UPDATE
-- (the invoice row is inserted first, so the set names it in the same write); the claim's
-- total follows its lines through the claim_lines trigger instead of claim_recount().
CREATE OR REPLACE FUNCTION charge_repair(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := nullif(e->>'ticket_id', '');
    v_center text := nullif(e->>'center', '');
    v_cat text := nullif(e->>'category', '');
    v_mfr text := nullif(e->>'manufacturer', '');
    v_code text := nullif(e->>'labour_code', '');
    v_minutes int := greatest(coalesce((e->>'labour_minutes')::int, 0), 0);
    v_parts jsonb := CASE jsonb_typeof(e->'parts_used') WHEN 'array' THEN e->'parts_used'
                                                        ELSE '[]' END;
    v_date date;
    v_payer text;
    v_basis text;
    v_cause text;
    v_line int := 0;
    v_notes text[] := '{}';
    v_incomplete boolean := false;
    v_handling int;
    v_vat_bp int;
    v_net bigint;
    v_vat bigint;
    v_qty int;
    v_unit bigint;
    v_amount bigint;
    v_cost bigint;
    v_line_payer text;
    v_line_basis text;
    v_claim text;
    v_inv record;
    v_customer bigint;
    v_manufacturer bigint;
    v_company bigint;
    v_claims_lines boolean;
    v_invoice_no text;
    lr labour_rates;
    pp parts_prices;
    fr fee_rates;
    p jsonb;
    cs charge_sets;
BEGIN
    IF v_ticket IS NULL OR v_center IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'RepairCompleted needs ticket_id and center');
    END IF;
    IF EXISTS (SELECT 1 FROM charge_sets WHERE ticket_id = v_ticket) THEN
        RETURN; -- charged already: a replay posts nothing
    END IF;
    v_payer := lower(coalesce(nullif(e->>'payer', ''),
        CASE WHEN e->>'warranty_status' IN ('granted', 'granted_with_depreciation')
                  AND coalesce(e->>'remedy', 'repair') = 'repair'
             THEN 'manufacturer' ELSE 'customer' END));
    IF v_payer NOT IN ('customer', 'manufacturer', 'company') THEN
        PERFORM fail(422, 'invalid_event', format('unknown payer %s', v_payer));
    END IF;
    v_cause := coalesce(nullif(e->>'cause', ''), 'other');
    IF v_cause NOT IN ('service_station', 'customer_visit', 'design_quality',
                       'manufacturing_quality', 'parts_problem', 'other') THEN
        v_notes := v_notes || format('unknown cause %s counted as other', v_cause);
        v_cause := 'other';
    END IF;
    IF v_payer = 'manufacturer' AND v_mfr IS NULL THEN
        v_notes := v_notes || 'warranty work without a manufacturer: claimed from UNKNOWN'::text;
        v_mfr := 'UNKNOWN';
        v_incomplete := true;
    END IF;
    v_date := business_date_of(e->>'completed_at');
    INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer, payer,
                            warranty_status, remedy, cause, fault_code, labour_code,
                            labour_minutes, business_date, currency, source)
        VALUES (v_ticket, 'repair', v_center, nullif(e->>'region', ''), v_cat,
                nullif(e->>'brand', ''), v_mfr, v_payer, nullif(e->>'warranty_status', ''),
                nullif(e->>'remedy', ''), v_cause, nullif(e->>'fault_code', ''), v_code,
                v_minutes, v_date, currency(), e)
        ON CONFLICT (ticket_id) DO NOTHING
        RETURNING * INTO cs;
    IF NOT FOUND THEN
        RETURN; -- a concurrent delivery of the same event won
    END IF;
    -- Customers pay list prices; manufacturers and goodwill are priced at claim rates.
    v_basis := CASE v_payer WHEN 'customer' THEN 'list' ELSE 'claim' END;

    -- Labour.
    IF v_code IS NOT NULL THEN
        lr := labour_rate(v_code, v_cat, v_mfr, v_date);
        IF lr.labour_code IS NULL THEN
            v_incomplete := true;
            v_notes := v_notes || format('no labour rate for %s (%s, %s) on %s', v_code,
                                         coalesce(v_cat, '-'), coalesce(v_mfr, '-'), v_date);
            v_amount := 0;
        ELSIF v_basis = 'list' THEN
            v_amount := lr.list_flat_cents + round(lr.list_hour_cents::numeric * v_minutes / 60)::bigint;
        ELSE
            v_amount := lr.claim_flat_cents + round(lr.claim_hour_cents::numeric * v_minutes / 60)::bigint;
        END IF;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis, note)
            VALUES (v_ticket, v_line, 'labour', v_code,
                    coalesce(lr.description, 'labour ' || v_code), 1, v_amount, v_amount, v_payer,
                    v_basis, format('%s min', v_minutes));
    END IF;

    -- Parts.
    IF jsonb_array_length(v_parts) > 0 THEN
        v_handling := handling_bp(v_mfr, v_date);
    END IF;
    FOR p IN SELECT x FROM jsonb_array_elements(v_parts) AS x LOOP
        v_qty := coalesce((p->>'qty')::int, 1);
        IF coalesce(p->>'sku', '') = '' OR v_qty <= 0 THEN
            v_notes := v_notes || format('part line %s ignored (no SKU or quantity)', p::text);
            CONTINUE;
        END IF;
        pp := part_price(p->>'sku', v_date);
        v_line_payer := v_payer;
        IF pp.sku IS NULL THEN
            v_incomplete := true;
            v_notes := v_notes || format('no price for part %s on %s', p->>'sku', v_date);
            v_unit := 0;
            v_amount := 0;
            v_cost := 0;
            v_line_basis := v_basis;
        ELSIF v_payer = 'customer' THEN
            v_unit := pp.list_cents;
            v_amount := pp.list_cents * v_qty;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'list';
        ELSIF v_payer = 'manufacturer' AND pp.warranty_covered THEN
            v_unit := round(pp.cost_cents::numeric * (10000 + v_handling) / 10000)::bigint;
            v_amount := round(pp.cost_cents::numeric * v_qty * (10000 + v_handling) / 10000)::bigint;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'claim';
        ELSE
            -- Goodwill, or a part the manufacturer does not reimburse: the company, at cost.
            v_line_payer := 'company';
            v_unit := pp.cost_cents;
            v_amount := pp.cost_cents * v_qty;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'cost';
        END IF;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, cost_cents, payer, basis, part_line_no, note)
            VALUES (v_ticket, v_line, 'part', p->>'sku', coalesce(pp.description, p->>'sku'),
                    v_qty, v_unit, v_amount, v_cost, v_line_payer, v_line_basis,
                    (p->>'line_no')::int,
                    CASE WHEN v_line_basis = 'claim' AND v_handling > 0
                         THEN format('cost plus %s %% handling', trim_scale(v_handling / 100.0)) END);
    END LOOP;

    -- Service and travel fees.
    FOR fr IN SELECT * FROM fees_for(v_cat, v_mfr, v_date) LOOP
        CONTINUE WHEN fr.applies = 'visit' AND v_cause <> 'customer_visit';
        v_unit := CASE v_basis WHEN 'list' THEN fr.list_cents ELSE fr.claim_cents END;
        CONTINUE WHEN v_unit IS NULL;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis)
            VALUES (v_ticket, v_line, 'fee', fr.fee_code, fr.description, 1, v_unit, v_unit,
                    v_payer, v_basis);
    END LOOP;

    -- VAT on what the customer pays, once on the net total, rounded half-up.
    v_vat_bp := vat_rate(v_date);
    SELECT coalesce(sum(amount_cents), 0) INTO v_net FROM charge_lines
        WHERE ticket_id = v_ticket AND payer = 'customer';
    v_vat := round(v_net::numeric * v_vat_bp / 10000)::bigint;
    IF v_vat > 0 THEN
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis)
            VALUES (v_ticket, v_line, 'vat', 'VAT', format('VAT %s %%', trim_scale(v_vat_bp / 100.0)), 1,
                    v_vat, v_vat, 'customer', 'vat');
    END IF;

    -- The totals per payer, and whether any line is the manufacturer's.
    SELECT coalesce(sum(amount_cents) FILTER (WHERE payer = 'customer'), 0),
           coalesce(sum(amount_cents) FILTER (WHERE payer = 'manufacturer'), 0),
           coalesce(sum(amount_cents) FILTER (WHERE payer = 'company'), 0),
           coalesce(bool_or(payer = 'manufacturer'), false)
        INTO v_customer, v_manufacturer, v_company, v_claims_lines
        FROM charge_lines WHERE ticket_id = v_ticket;

    -- The customer's invoice, numbered without gaps per centre and year.
    IF v_customer > 0 THEN
        SELECT * INTO v_inv FROM next_invoice_no(cs.center, extract(year FROM v_date)::int);
        INSERT INTO invoices(invoice_no, center, year, seq, ticket_id, issue_date, net_cents,
                             vat_rate_bp, vat_cents, total_cents, currency)
            VALUES (v_inv.invoice_no, cs.center, extract(year FROM v_date)::int, v_inv.seq,
                    v_ticket, v_date, v_net, v_vat_bp, v_vat, v_net + v_vat, cs.currency);
        v_invoice_no := v_inv.invoice_no;
    END IF;

    UPDATE charge_sets SET
        customer_cents = v_customer, manufacturer_cents = v_manufacturer,
        company_cents = v_company, vat_cents = v_vat, vat_rate_bp = v_vat_bp,
        incomplete = v_incomplete, notes = v_notes, invoice_no = v_invoice_no
    WHERE ticket_id = v_ticket
    RETURNING * INTO cs;

    -- The manufacturer's share becomes lines of the open claim of its manufacturer and month
    -- (the claim_lines trigger adds them to the claim's total).
    IF v_claims_lines THEN
        v_claim := open_claim(v_mfr, period_of(v_date));
        INSERT INTO claim_lines(claim_id, line_no, ticket_id, charge_line_no, center, kind, code,
                                description, qty, part_line_no, claimed_cents, return_required,
                                business_date)
            SELECT v_claim,
                   (SELECT coalesce(max(line_no), 0) FROM claim_lines WHERE claim_id = v_claim)
                       + row_number() OVER (ORDER BY l.line_no),
                   l.ticket_id, l.line_no, cs.center, l.kind, l.code, l.description, l.qty,
                   l.part_line_no, l.amount_cents,
                   l.kind = 'part' AND coalesce((part_price(l.code, v_date)).return_required, false),
                   v_date
            FROM charge_lines l WHERE l.ticket_id = v_ticket AND l.payer = 'manufacturer';
    END IF;

    PERFORM post_charge(cs, v_claim);
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'charge', 'ticket',
                        v_ticket, jsonb_build_object('payer', v_payer,
                            'customer_cents', cs.customer_cents,
                            'manufacturer_cents', cs.manufacturer_cents,
                            'company_cents', cs.company_cents, 'invoice_no', cs.invoice_no));
    -- Events last: every transaction takes the outbox lock after the ledger's (no deadlocks).
    IF cs.invoice_no IS NOT NULL THEN
        PERFORM emit('settlement', 'settlement.InvoiceIssued', jsonb_build_object(
            'invoice_no', cs.invoice_no, 'ticket_id', v_ticket, 'center', cs.center,
            'issue_date', v_date::text, 'net_cents', v_net, 'vat_cents', v_vat,
            'total_cents', v_net + v_vat, 'currency', cs.currency));
    END IF;
    PERFORM emit_charged(cs);
END $$;
