-- settlement: the consented estimate caps the customer's bill (issue 14, point 6).
--
-- intake.RepairCompleted carries consented_estimate_cents, the estimate the customer last
-- accepted. When the customer's list-priced lines plus VAT come to more, the customer pays the
-- estimate (VAT included: the VAT line is the estimate minus the customer's net) and the net
-- amount above it moves to the company: for each customer line (last first) the amount taken
-- off is a company line of the same kind with basis 'over_estimate'. The charge entry posts it
-- as goodwill (Dr 6601, credited to revenue like the line it came from), so the entry still
-- balances and revenue is the same as without the cap. The charge set's notes say so.

ALTER TABLE charge_lines DROP CONSTRAINT IF EXISTS charge_lines_basis_check;
ALTER TABLE charge_lines ADD CONSTRAINT charge_lines_basis_check
    CHECK (basis IN ('list', 'claim', 'cost', 'vat', 'seller', 'over_estimate'));

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
