-- settlement: the travel fee of on-site service orders (issue 19.3, docs/onsite.md). One
-- current definition per function, applied with CREATE OR REPLACE after the numbered
-- migrations on every start. Tables: migrations/330_onsite_travel.sql.

-- The rate in force for a category on a date: the category's own row, else '*', the latest.
CREATE OR REPLACE FUNCTION travel_rate(p_category text, p_date date) RETURNS travel_rates
LANGUAGE sql STABLE AS $$
    SELECT * FROM travel_rates
    WHERE category IN (coalesce(p_category, '*'), '*') AND effective_from <= p_date
    ORDER BY category = '*', effective_from DESC LIMIT 1
$$;

-- intake.ServiceOrderChanged: on `done`, the travel fee (rate per km x distance, rounded to the
-- cent) as a charge set of kind onsite keyed by the order id, with VAT and an invoice when the
-- customer pays, a claim line when the manufacturer does; posted to the ledger like a repair.
-- Every other transition is passed over. A replay posts nothing (the charge set exists).
CREATE OR REPLACE FUNCTION on_service_order_changed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_order text := nullif(e->>'order_id', '');
    v_center text := nullif(e->>'center', '');
    v_cat text := nullif(e->>'category', '');
    v_mfr text := nullif(e->>'manufacturer', '');
    v_payer text := coalesce(nullif(e->>'payer', ''), 'customer');
    v_km numeric := coalesce((e->>'distance_km')::numeric, 0);
    v_date date;
    v_rate travel_rates;
    v_unit bigint;
    v_amount bigint;
    v_vat_bp int;
    v_vat bigint := 0;
    v_notes text[] := '{}';
    v_incomplete boolean := false;
    v_inv record;
    v_invoice_no text;
    v_claim text;
    cs charge_sets;
BEGIN
    IF coalesce(e->>'to_state', '') <> 'done' THEN
        RETURN;
    END IF;
    IF v_order IS NULL OR v_center IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'ServiceOrderChanged needs order_id and center');
    END IF;
    IF EXISTS (SELECT 1 FROM charge_sets WHERE ticket_id = v_order) THEN
        RETURN; -- charged already
    END IF;
    IF v_payer NOT IN ('customer', 'manufacturer') THEN
        v_notes := v_notes || format('unknown payer %s: the customer pays', v_payer);
        v_payer := 'customer';
    END IF;
    IF v_payer = 'manufacturer' AND v_mfr IS NULL THEN
        v_notes := v_notes || 'covered visit without a manufacturer: claimed from UNKNOWN'::text;
        v_mfr := 'UNKNOWN';
        v_incomplete := true;
    END IF;
    v_date := business_date_of(e->>'at');
    v_rate := travel_rate(v_cat, v_date);
    IF v_rate.effective_from IS NULL THEN
        v_incomplete := true;
        v_notes := v_notes || format('no travel rate for %s on %s', coalesce(v_cat, '-'), v_date);
        v_unit := 0;
    ELSE
        v_unit := CASE v_payer WHEN 'customer' THEN v_rate.list_cents_per_km
                               ELSE v_rate.claim_cents_per_km END;
    END IF;
    v_amount := round(v_unit * v_km)::bigint;
    INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer, payer,
                            cause, business_date, currency, source)
        VALUES (v_order, 'onsite', v_center, nullif(e->>'region', ''), v_cat,
                nullif(e->>'brand', ''), v_mfr, v_payer, 'customer_visit', v_date, currency(), e)
        ON CONFLICT (ticket_id) DO NOTHING
        RETURNING * INTO cs;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_amount > 0 THEN
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis, note)
            VALUES (v_order, 1, 'fee', 'TRAVEL', 'travel to the customer''s address', 1, v_amount,
                    v_amount, v_payer, CASE v_payer WHEN 'customer' THEN 'list' ELSE 'claim' END,
                    format('%s km at %s cents/km', v_km, v_unit));
    END IF;
    IF v_payer = 'customer' AND v_amount > 0 THEN
        v_vat_bp := vat_rate(v_date);
        v_vat := round(v_amount::numeric * v_vat_bp / 10000)::bigint;
        IF v_vat > 0 THEN
            INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                     amount_cents, payer, basis)
                VALUES (v_order, 2, 'vat', 'VAT', format('VAT %s %%', trim_scale(v_vat_bp / 100.0)),
                        1, v_vat, v_vat, 'customer', 'vat');
        END IF;
        SELECT * INTO v_inv FROM next_invoice_no(cs.center, extract(year FROM v_date)::int);
        INSERT INTO invoices(invoice_no, center, year, seq, ticket_id, issue_date, net_cents,
                             vat_rate_bp, vat_cents, total_cents, currency)
            VALUES (v_inv.invoice_no, cs.center, extract(year FROM v_date)::int, v_inv.seq,
                    v_order, v_date, v_amount, v_vat_bp, v_vat, v_amount + v_vat, cs.currency);
        v_invoice_no := v_inv.invoice_no;
    END IF;
    UPDATE charge_sets SET
        customer_cents = CASE v_payer WHEN 'customer' THEN v_amount + v_vat ELSE 0 END,
        manufacturer_cents = CASE v_payer WHEN 'manufacturer' THEN v_amount ELSE 0 END,
        vat_cents = v_vat, vat_rate_bp = v_vat_bp, incomplete = v_incomplete, notes = v_notes,
        invoice_no = v_invoice_no
    WHERE ticket_id = v_order
    RETURNING * INTO cs;
    IF v_payer = 'manufacturer' AND v_amount > 0 THEN
        v_claim := open_claim(v_mfr, period_of(v_date));
        INSERT INTO claim_lines(claim_id, line_no, ticket_id, charge_line_no, center, kind, code,
                                description, qty, part_line_no, claimed_cents, return_required,
                                business_date)
            SELECT v_claim,
                   (SELECT coalesce(max(line_no), 0) FROM claim_lines WHERE claim_id = v_claim) + 1,
                   l.ticket_id, l.line_no, cs.center, l.kind, l.code, l.description, l.qty,
                   NULL, l.amount_cents, false, v_date
            FROM charge_lines l WHERE l.ticket_id = v_order AND l.payer = 'manufacturer';
    END IF;
    IF v_amount > 0 THEN
        PERFORM post_charge(cs, v_claim);
    END IF;
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'charge',
                        'service_order', v_order, jsonb_build_object('payer', v_payer,
                            'distance_km', v_km, 'customer_cents', cs.customer_cents,
                            'manufacturer_cents', cs.manufacturer_cents,
                            'invoice_no', cs.invoice_no));
    IF cs.invoice_no IS NOT NULL THEN
        PERFORM emit('settlement', 'settlement.InvoiceIssued', jsonb_build_object(
            'invoice_no', cs.invoice_no, 'ticket_id', v_order, 'center', cs.center,
            'issue_date', v_date::text, 'net_cents', v_amount, 'vat_cents', v_vat,
            'total_cents', v_amount + v_vat, 'currency', cs.currency));
    END IF;
    PERFORM emit_charged(cs);
END $$;
