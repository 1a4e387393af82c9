-- settlement: charges functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

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

-- The fees in force for a job: per fee code, the most specific row, then the latest.
CREATE OR REPLACE FUNCTION fees_for(p_category text, p_mfr text, p_date date) RETURNS SETOF fee_rates
LANGUAGE sql STABLE AS $$
    SELECT f.* FROM (
        SELECT DISTINCT ON (fee_code) * FROM fee_rates
        WHERE category IN (coalesce(p_category, '*'), '*')
          AND manufacturer IN (coalesce(p_mfr, '*'), '*') AND effective_from <= p_date
        ORDER BY fee_code, manufacturer = '*', category = '*', effective_from DESC) f
    WHERE f.active
    ORDER BY f.fee_code
$$;

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

-- The charge entry: who owes (per payer) against revenue and VAT. The cost of the parts is
-- posted by the stock movement that issued them (parts.StockValued, kind issue).
CREATE OR REPLACE FUNCTION post_charge(cs charge_sets, p_claim text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_lines jsonb;
BEGIN
    WITH l AS (SELECT * FROM charge_lines WHERE ticket_id = cs.ticket_id),
    x AS (
        SELECT 1 AS ord, CASE payer WHEN 'customer' THEN '1122' WHEN 'manufacturer' THEN '1124'
                                    WHEN 'company' THEN '6601' WHEN 'seller' THEN '6603' END AS account,
               sum(amount_cents) AS debit, 0::bigint AS credit, payer
        FROM l GROUP BY payer
        UNION ALL
        SELECT 2, CASE kind WHEN 'part' THEN '6051' WHEN 'vat' THEN '2221'
                            WHEN 'refund' THEN '2241' WHEN 'exchange' THEN '2241' ELSE '6001' END,
               0, sum(amount_cents), payer
        FROM l GROUP BY 2, payer)
    SELECT jsonb_agg(jsonb_build_object(
               'account', account, 'debit', debit, 'credit', credit, 'payer', payer,
               'ticket_id', cs.ticket_id, 'center', cs.center, 'region', cs.region,
               'manufacturer', cs.manufacturer) ORDER BY ord, account, payer)
        INTO v_lines FROM x;
    RETURN post_entry('charge:' || cs.ticket_id, 'charge', cs.business_date,
                      format('%s charges of ticket %s', cs.kind, cs.ticket_id), v_lines,
                      cs.ticket_id, cs.invoice_no, p_claim);
END $$;

CREATE OR REPLACE FUNCTION emit_charged(cs charge_sets) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('settlement', 'settlement.Charged', jsonb_build_object(
        'ticket_id', cs.ticket_id, 'customer_cents', cs.customer_cents,
        'manufacturer_cents', cs.manufacturer_cents, 'company_cents', cs.company_cents,
        'invoice_no', cs.invoice_no, 'currency', cs.currency, 'seller_cents', cs.seller_cents,
        'center', cs.center, 'kind', cs.kind, 'incomplete', cs.incomplete));
END $$;

-- As in 101_fast.sql, plus the cap (before the VAT line is written).
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
    v_cap bigint;
    v_over bigint;
    v_left bigint;
    v_take bigint;
    cl charge_lines;
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
        CONTINUE WHEN fr.applies = 'diagnosis'; -- only for a device returned unrepaired
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

    -- The estimate the customer consented to caps what they pay, VAT included. What is above it
    -- moves to the company (basis over_estimate: the centre's goodwill, debited to 6601), taken
    -- from the customer's lines last first; the customer's VAT is what is left of the cap.
    IF v_payer = 'customer' AND jsonb_typeof(e->'consented_estimate_cents') IN ('number', 'string') THEN
        v_cap := greatest((e->>'consented_estimate_cents')::bigint, 0);
    END IF;
    IF v_cap IS NOT NULL AND v_net + v_vat > v_cap THEN
        v_over := v_net - round(v_cap::numeric * 10000 / (10000 + v_vat_bp))::bigint;
        v_left := v_over;
        FOR cl IN SELECT * FROM charge_lines WHERE ticket_id = v_ticket AND payer = 'customer'
                  ORDER BY line_no DESC LOOP
            EXIT WHEN v_left <= 0;
            v_take := least(v_left, cl.amount_cents);
            CONTINUE WHEN v_take <= 0;
            UPDATE charge_lines SET amount_cents = amount_cents - v_take,
                       note = concat_ws('; ', note, format('%s above the consented estimate taken off', v_take))
                WHERE ticket_id = v_ticket AND line_no = cl.line_no;
            v_line := v_line + 1;
            INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                     amount_cents, payer, basis, note)
                VALUES (v_ticket, v_line, cl.kind, cl.code, cl.description, 1, v_take, v_take,
                        'company', 'over_estimate',
                        format('above the consented estimate (line %s): the centre''s goodwill', cl.line_no));
            v_left := v_left - v_take;
        END LOOP;
        v_net := v_net - v_over;
        v_vat := v_cap - v_net;
        v_notes := v_notes || format('customer capped at the consented estimate %s cents; %s cents above it are the centre''s goodwill',
                                     v_cap, v_over);
    END IF;
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

CREATE OR REPLACE FUNCTION close_ticket(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := nullif(e->>'ticket_id', '');
    v_outcome text := nullif(e->>'outcome', '');
    v_date date;
    v_amount bigint;
    v_kind text;
    cs charge_sets;
    v_method text := payment_method_of(e->>'payment_method');
    v_cash text;
BEGIN
    IF v_ticket IS NULL OR v_outcome IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'TicketClosed needs ticket_id and outcome');
    END IF;
    IF v_outcome NOT IN ('repaired', 'refunded', 'exchanged', 'declined') THEN
        PERFORM fail(422, 'invalid_event', format('unknown outcome %s', v_outcome));
    END IF;
    v_date := business_date_of(coalesce(nullif(e->>'closed_date', ''), e->>'closed_at'));
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = v_ticket FOR UPDATE;
    IF FOUND AND cs.closed_outcome IS NOT NULL THEN
        RETURN; -- closed already: a replay posts nothing
    END IF;

    IF v_outcome IN ('refunded', 'exchanged') THEN
        v_amount := CASE v_outcome WHEN 'refunded' THEN coalesce((e->>'refund_cents')::bigint, 0)
                        ELSE coalesce(nullif((e->>'refund_cents')::bigint, 0),
                                      (e->>'price_cents')::bigint, 0) END;
        IF v_amount < 0 THEN
            PERFORM fail(422, 'invalid_event', 'negative refund');
        END IF;
        v_kind := CASE v_outcome WHEN 'refunded' THEN 'refund' ELSE 'exchange' END;
        IF cs.ticket_id IS NULL THEN
            INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand,
                                    manufacturer, payer, business_date, currency, seller_cents,
                                    closed_outcome, closed_date, source)
                VALUES (v_ticket, v_outcome, coalesce(nullif(e->>'center', ''), '-'),
                        nullif(e->>'region', ''), nullif(e->>'category', ''),
                        nullif(e->>'brand', ''), nullif(e->>'manufacturer', ''), 'seller',
                        v_date, currency(), v_amount, v_outcome, v_date, e)
                RETURNING * INTO cs;
            IF v_amount > 0 THEN
                INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty,
                                         unit_cents, amount_cents, payer, basis)
                    VALUES (v_ticket, 1, v_kind, upper(v_kind),
                            CASE v_kind WHEN 'refund' THEN 'refund to the customer (三包)'
                                        ELSE 'exchange of the product (三包)' END,
                            1, v_amount, v_amount, 'seller', 'seller');
            END IF;
            PERFORM post_charge(cs, NULL);
            PERFORM emit_charged(cs);
        ELSE
            -- Repaired first, then refunded or exchanged: the seller's line joins the set.
            IF v_amount > 0 THEN
                INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty,
                                         unit_cents, amount_cents, payer, basis)
                    VALUES (v_ticket, (SELECT max(line_no) + 1 FROM charge_lines
                                       WHERE ticket_id = v_ticket), v_kind, upper(v_kind),
                            'closed as ' || v_outcome, 1, v_amount, v_amount, 'seller', 'seller');
                PERFORM post_entry('seller:' || v_ticket, 'seller_refund', v_date,
                    format('%s of ticket %s (seller account)', v_kind, v_ticket),
                    jsonb_build_array(
                        jsonb_build_object('account', '6603', 'debit', v_amount, 'payer', 'seller',
                                           'ticket_id', v_ticket, 'center', cs.center,
                                           'region', cs.region, 'manufacturer', cs.manufacturer),
                        jsonb_build_object('account', '2241', 'credit', v_amount, 'payer', 'seller',
                                           'ticket_id', v_ticket, 'center', cs.center,
                                           'region', cs.region, 'manufacturer', cs.manufacturer)),
                    v_ticket);
            END IF;
            UPDATE charge_sets SET seller_cents = seller_cents + v_amount,
                                   closed_outcome = v_outcome, closed_date = v_date
                WHERE ticket_id = v_ticket;
        END IF;
    ELSIF v_outcome = 'declined' AND cs.ticket_id IS NULL
          AND coalesce((e->>'diagnosis_fee')::boolean, false) THEN
        PERFORM charge_diagnosis_fee(e, v_date);
    ELSIF v_outcome = 'declined' AND cs.ticket_id IS NULL THEN
        INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer,
                                payer, business_date, currency, closed_outcome, closed_date, source)
            VALUES (v_ticket, 'declined', coalesce(nullif(e->>'center', ''), '-'),
                    nullif(e->>'region', ''), nullif(e->>'category', ''), nullif(e->>'brand', ''),
                    nullif(e->>'manufacturer', ''), 'none', v_date, currency(), v_outcome, v_date, e)
            RETURNING * INTO cs;
        PERFORM emit_charged(cs);
    ELSIF cs.ticket_id IS NOT NULL THEN
        -- Repaired (or declined after a repair was charged): the customer pays at hand-back.
        IF cs.customer_cents > 0 THEN
            -- An unknown method must not lose the payment: it is booked as unspecified (1001).
            v_method := coalesce(v_method, 'unspecified');
            v_cash := payment_account(v_method);
            PERFORM post_entry('payment:' || v_ticket, 'customer_payment', v_date,
                format('payment of invoice %s (%s)', cs.invoice_no, v_method),
                jsonb_build_array(
                    jsonb_build_object('account', v_cash, 'debit', cs.customer_cents,
                                       'payer', 'customer', 'ticket_id', v_ticket,
                                       'center', cs.center, 'region', cs.region),
                    jsonb_build_object('account', '1122', 'credit', cs.customer_cents,
                                       'payer', 'customer', 'ticket_id', v_ticket,
                                       'center', cs.center, 'region', cs.region)),
                v_ticket, cs.invoice_no);
        END IF;
        UPDATE charge_sets SET closed_outcome = v_outcome, closed_date = v_date,
                               payment_method = CASE WHEN cs.customer_cents > 0 THEN v_method END
            WHERE ticket_id = v_ticket;
    ELSE
        PERFORM reject_event('intake.TicketClosed', e,
                             'closed as repaired but no RepairCompleted was charged');
        RETURN;
    END IF;
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'close', 'ticket',
                        v_ticket, jsonb_build_object('outcome', v_outcome, 'amount', v_amount));
END $$;

-- Returned unrepaired with the diagnosis fee owed (intake decided it: a paid repair was
-- diagnosed and the customer consented at intake): the customer is charged exactly the
-- diagnosis fee of the price list in force on the day they consented (the ticket's opening
-- day, Asia/Shanghai) for the ticket's category and manufacturer, plus VAT; an invoice is
-- issued and, as at any hand-back, paid with the method given (payment:<ticket>). No rate in
-- force: nothing is charged and the charge set says so (incomplete).
CREATE OR REPLACE FUNCTION charge_diagnosis_fee(e jsonb, p_date date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := e->>'ticket_id';
    v_cat text := nullif(e->>'category', '');
    v_mfr text := nullif(e->>'manufacturer', '');
    v_consent_date date := coalesce(business_date_of(nullif(e->>'opened_at', '')), p_date);
    v_method text := coalesce(payment_method_of(e->>'payment_method'), 'unspecified');
    v_vat_bp int := vat_rate(p_date);
    v_net bigint;
    v_vat bigint;
    v_inv record;
    fr fee_rates;
    cs charge_sets;
BEGIN
    SELECT * INTO fr FROM fees_for(v_cat, v_mfr, v_consent_date) f
        WHERE f.applies = 'diagnosis' AND f.list_cents IS NOT NULL ORDER BY f.fee_code LIMIT 1;
    INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer,
                            payer, business_date, currency, closed_outcome, closed_date, source,
                            incomplete, notes)
        VALUES (v_ticket, 'declined', coalesce(nullif(e->>'center', ''), '-'),
                nullif(e->>'region', ''), v_cat, nullif(e->>'brand', ''), v_mfr,
                CASE WHEN fr.fee_code IS NULL THEN 'none' ELSE 'customer' END, p_date, currency(),
                'declined', p_date, e, fr.fee_code IS NULL,
                CASE WHEN fr.fee_code IS NULL
                     THEN ARRAY[format('no diagnosis fee in the price list for %s (%s) on %s',
                                       coalesce(v_cat, '-'), coalesce(v_mfr, '-'), v_consent_date)]
                     ELSE ARRAY[format('diagnosis fee consented on %s', v_consent_date)] END)
        RETURNING * INTO cs;
    IF fr.fee_code IS NULL OR fr.list_cents = 0 THEN
        PERFORM emit_charged(cs);
        RETURN;
    END IF;
    v_net := fr.list_cents;
    v_vat := round(v_net::numeric * v_vat_bp / 10000)::bigint;
    INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                             amount_cents, payer, basis, note)
        VALUES (v_ticket, 1, 'fee', fr.fee_code, fr.description, 1, v_net, v_net, 'customer',
                'list', 'returned unrepaired: the consented diagnosis fee');
    IF v_vat > 0 THEN
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis)
            VALUES (v_ticket, 2, 'vat', 'VAT', format('VAT %s %%', trim_scale(v_vat_bp / 100.0)), 1,
                    v_vat, v_vat, 'customer', 'vat');
    END IF;
    SELECT * INTO v_inv FROM next_invoice_no(cs.center, extract(year FROM p_date)::int);
    INSERT INTO invoices(invoice_no, center, year, seq, ticket_id, issue_date, net_cents,
                         vat_rate_bp, vat_cents, total_cents, currency)
        VALUES (v_inv.invoice_no, cs.center, extract(year FROM p_date)::int, v_inv.seq, v_ticket,
                p_date, v_net, v_vat_bp, v_vat, v_net + v_vat, cs.currency);
    UPDATE charge_sets SET customer_cents = v_net + v_vat, vat_cents = v_vat,
                           vat_rate_bp = v_vat_bp, invoice_no = v_inv.invoice_no,
                           payment_method = v_method
        WHERE ticket_id = v_ticket RETURNING * INTO cs;
    PERFORM post_charge(cs, NULL);
    PERFORM post_entry('payment:' || v_ticket, 'customer_payment', p_date,
        format('payment of invoice %s (%s)', cs.invoice_no, v_method),
        jsonb_build_array(
            jsonb_build_object('account', payment_account(v_method), 'debit', cs.customer_cents,
                               'payer', 'customer', 'ticket_id', v_ticket, 'center', cs.center,
                               'region', cs.region),
            jsonb_build_object('account', '1122', 'credit', cs.customer_cents, 'payer', 'customer',
                               'ticket_id', v_ticket, 'center', cs.center, 'region', cs.region)),
        v_ticket, cs.invoice_no);
    -- Events last: every transaction takes the outbox lock after the ledger's (no deadlocks).
    PERFORM emit('settlement', 'settlement.InvoiceIssued', jsonb_build_object(
        'invoice_no', cs.invoice_no, 'ticket_id', v_ticket, 'center', cs.center,
        'issue_date', p_date::text, 'net_cents', v_net, 'vat_cents', v_vat,
        'total_cents', v_net + v_vat, 'currency', cs.currency));
    PERFORM emit_charged(cs);
END $$;

-- The handlers the consumer calls. Malformed events are recorded in event_rejects and skipped
-- (so one bad event cannot stop the stream); anything else (a deadlock, a lost connection, a
-- bug) rolls back and the event is delivered again.
CREATE OR REPLACE FUNCTION on_repair_completed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM charge_repair(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('intake.RepairCompleted', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;

CREATE OR REPLACE FUNCTION on_defective_return(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'sku', '') = '' THEN
        PERFORM reject_event('parts.DefectiveReturnRecorded', e, 'ticket_id and sku are required');
        RETURN;
    END IF;
    INSERT INTO defective_returns(ticket_id, sku, line_no, qty, site, manufacturer, returned_at,
                                  return_id)
        VALUES (e->>'ticket_id', e->>'sku', nullif(e->>'line_no', '')::int,
                greatest(coalesce((e->>'qty')::int, 1), 1), e->>'site', e->>'manufacturer',
                coalesce(e->>'returned_at', ''), nullif(e->>'return_id', ''))
        ON CONFLICT DO NOTHING;
    IF FOUND THEN
        PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL,
                            'defective_returned', 'ticket', e->>'ticket_id',
                            jsonb_strip_nulls(jsonb_build_object('sku', e->>'sku', 'qty', e->'qty',
                                'line_no', e->'line_no', 'return_id', e->>'return_id')));
    END IF;
EXCEPTION WHEN data_exception THEN
    PERFORM reject_event('parts.DefectiveReturnRecorded', e, SQLERRM);
END $$;

CREATE OR REPLACE FUNCTION on_defective_return_owed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'return_id', '') = '' OR coalesce(e->>'ticket_id', '') = ''
       OR coalesce(e->>'sku', '') = '' THEN
        PERFORM reject_event('parts.DefectiveReturnOwed', e, 'return_id, ticket_id and sku are required');
        RETURN;
    END IF;
    INSERT INTO returns_owed(return_id, ticket_id, sku, line_no, qty, site, manufacturer, due_date)
        VALUES (e->>'return_id', e->>'ticket_id', e->>'sku', nullif(e->>'line_no', '')::int,
                greatest(coalesce((e->>'qty')::int, 1), 1), e->>'site', e->>'manufacturer',
                nullif(e->>'due_date', '')::date)
        ON CONFLICT DO NOTHING;
EXCEPTION WHEN data_exception THEN
    PERFORM reject_event('parts.DefectiveReturnOwed', e, SQLERRM);
END $$;

CREATE OR REPLACE FUNCTION read_charges(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    cs charge_sets;
BEGIN
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = a->>'ticket_id';
    IF NOT FOUND OR NOT may_see(p_principal, cs.center, cs.region) THEN
        PERFORM fail(404, 'not_found', format('no charges for ticket %s', a->>'ticket_id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', charge_set_json(cs));
END $$;
