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

-- ---- travel rates as data (docs/onsite.md "The travel fee") --------------------------------------

CREATE OR REPLACE FUNCTION travel_rate_json(r travel_rates, p_date date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'category', r.category, 'effective_from', r.effective_from::text,
        'list_cents_per_km', r.list_cents_per_km, 'claim_cents_per_km', r.claim_cents_per_km,
        'in_force', (SELECT t.category = r.category AND t.effective_from = r.effective_from
                     FROM travel_rate(CASE r.category WHEN '*' THEN NULL ELSE r.category END, p_date) t
                     WHERE t.category = r.category),
        'created_by', r.created_by,
        'created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
$$;

-- GET /v1/settlement/travel-rates?date=&category=: every rate row, newest first per category;
-- `in_force` marks the row that prices a visit done on `date` (default today) for its category.
CREATE OR REPLACE FUNCTION read_travel_rates(p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'date', coalesce(nullif(a->>'date', '')::date, today_sh())::text,
        'rates', coalesce(jsonb_agg(travel_rate_json(r, coalesce(nullif(a->>'date', '')::date, today_sh()))
                                    ORDER BY r.category = '*' DESC, r.category, r.effective_from DESC), '[]')))
    FROM travel_rates r
    WHERE coalesce(a->>'category', '') = '' OR r.category = a->>'category'
$$;

-- ---- the customer pays a visit's invoice -----------------------------------------------------

-- POST /v1/service-orders/{id}/payment {method, reference, paid_date}: the customer pays the
-- travel fee invoiced for an on-site order (Dr the method's account / Cr 1122, entry kind
-- customer_payment, source payment:<order>, exactly as a hand-back payment). Once: a second
-- payment is 409 already_paid (the same request id again gets the stored answer).
CREATE OR REPLACE FUNCTION cmd_pay_order_invoice(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := a->>'id';
    v_method text := payment_method_of(a->>'method');
    v_date date;
    v_entry bigint;
    cs charge_sets;
BEGIN
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = v_id AND kind = 'onsite' FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, cs.center, cs.region) THEN
        PERFORM fail(404, 'not_found',
                     format('service order %s has no travel charge (not done yet, or not yours)', v_id));
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'finance', 'center', 'service') THEN
        PERFORM fail(403, 'forbidden', 'a desk, finance or admin records a payment');
    END IF;
    IF cs.customer_cents <= 0 OR cs.invoice_no IS NULL THEN
        PERFORM fail(409, 'nothing_to_pay',
                     format('the customer owes nothing for service order %s (payer %s)', v_id, cs.payer));
    END IF;
    IF EXISTS (SELECT 1 FROM journal_entries WHERE source_key = 'payment:' || v_id) THEN
        PERFORM fail(409, 'already_paid', format('invoice %s of service order %s is paid already',
                                                 cs.invoice_no, v_id));
    END IF;
    IF v_method IS NULL OR v_method = 'unspecified' THEN
        PERFORM fail(400, 'bad_method',
                     'method must be one of cash, card, wechat_pay, alipay, bank_transfer');
    END IF;
    v_date := coalesce(nullif(a->>'paid_date', '')::date, today_sh());
    IF v_date > today_sh() THEN
        PERFORM fail(422, 'future_date', 'paid_date is in the future');
    END IF;
    IF v_date < cs.business_date THEN
        PERFORM fail(422, 'before_invoice',
                     format('paid_date %s is before the invoice (%s)', v_date, cs.business_date));
    END IF;
    v_entry := post_entry('payment:' || v_id, 'customer_payment', v_date,
        format('payment of invoice %s (%s)%s', cs.invoice_no, v_method,
               coalesce(' ref ' || nullif(a->>'reference', ''), '')),
        jsonb_build_array(
            jsonb_build_object('account', payment_account(v_method), 'debit', cs.customer_cents,
                               'payer', 'customer', 'ticket_id', v_id, 'center', cs.center,
                               'region', cs.region),
            jsonb_build_object('account', '1122', 'credit', cs.customer_cents,
                               'payer', 'customer', 'ticket_id', v_id, 'center', cs.center,
                               'region', cs.region)),
        v_id, cs.invoice_no, NULL, NULL, p_principal, p_req);
    UPDATE charge_sets SET payment_method = v_method,
                           payment_reference = nullif(a->>'reference', '')
        WHERE ticket_id = v_id;
    PERFORM audit_write(p_principal, p_req, 'payment', 'service_order', v_id,
                        jsonb_strip_nulls(jsonb_build_object(
                            'invoice_no', cs.invoice_no, 'amount_cents', cs.customer_cents,
                            'method', v_method, 'reference', nullif(a->>'reference', ''),
                            'entry_no', v_entry)));
    RETURN jsonb_build_object('status', 201, 'body', jsonb_strip_nulls(jsonb_build_object(
        'order_id', v_id, 'invoice_no', cs.invoice_no, 'amount_cents', cs.customer_cents,
        'method', v_method, 'reference', nullif(a->>'reference', ''),
        'paid_date', v_date::text, 'entry_no', v_entry)));
END $$;
