-- settlement: payments functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION next_invoice_no(p_center text, p_year int, OUT seq int, OUT invoice_no text)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invoice_counters AS c (center, year, last_no) VALUES (p_center, p_year, 1)
        ON CONFLICT (center, year) DO UPDATE SET last_no = c.last_no + 1
        RETURNING c.last_no INTO seq;
    invoice_no := p_center || '-' || p_year || '-' || lpad(seq::text, 6, '0');
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

CREATE OR REPLACE FUNCTION read_invoice(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    i invoices;
    v_region text;
BEGIN
    SELECT * INTO i FROM invoices WHERE invoice_no = a->>'invoice_no';
    SELECT region INTO v_region FROM charge_sets WHERE ticket_id = i.ticket_id;
    IF i.invoice_no IS NULL OR NOT may_see(p_principal, i.center, v_region) THEN
        PERFORM fail(404, 'not_found', format('invoice %s not found', a->>'invoice_no'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', invoice_json(i));
END $$;

CREATE OR REPLACE FUNCTION read_invoices(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 500);
    v_rows jsonb;
    v_n int;
BEGIN
    WITH page AS (
        SELECT i FROM invoices i JOIN charge_sets cs USING (ticket_id)
        WHERE may_see(p_principal, i.center, cs.region)
          AND (a->>'center' IS NULL OR i.center = a->>'center')
          AND (a->>'year' IS NULL OR i.year = (a->>'year')::int)
          AND (a->>'after' IS NULL OR i.invoice_no > a->>'after')
        ORDER BY i.invoice_no LIMIT v_limit)
    SELECT coalesce(jsonb_agg(invoice_json(page.i) ORDER BY (page.i).invoice_no), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'invoices', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'invoice_no' END)));
END $$;

-- The method's canonical name: 'unspecified' for empty/absent, NULL when unknown.
CREATE OR REPLACE FUNCTION payment_method_of(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(btrim(p), '') = '' THEN 'unspecified'
                WHEN lower(btrim(p)) IN ('cash', 'card', 'wechat_pay', 'alipay', 'bank_transfer')
                    THEN lower(btrim(p)) END
$$;

CREATE OR REPLACE FUNCTION payment_account(p_method text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_method WHEN 'cash' THEN '1011' WHEN 'card' THEN '1012'
                         WHEN 'wechat_pay' THEN '1013' WHEN 'alipay' THEN '1014'
                         WHEN 'bank_transfer' THEN '1015' ELSE '1001' END
$$;

-- What is still owed to the customer of a ticket: its refunds payable (2241) balance.
CREATE OR REPLACE FUNCTION refund_outstanding(p_ticket text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(credit_cents - debit_cents), 0)::bigint
    FROM journal_lines WHERE account = '2241' AND ticket_id = p_ticket
$$;

CREATE OR REPLACE FUNCTION refund_json(p_ticket text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', p_ticket,
        'center', (SELECT center FROM charge_sets WHERE ticket_id = p_ticket),
        'kind', (SELECT closed_outcome FROM charge_sets WHERE ticket_id = p_ticket),
        'payable_cents', (SELECT coalesce(sum(credit_cents), 0) FROM journal_lines
                          WHERE account = '2241' AND ticket_id = p_ticket),
        'paid_cents', (SELECT coalesce(sum(amount_cents), 0) FROM refund_payouts
                       WHERE ticket_id = p_ticket),
        'outstanding_cents', refund_outstanding(p_ticket),
        'payouts', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'id', r.id, 'method', r.method, 'reference', r.reference,
                        'amount_cents', r.amount_cents, 'paid_date', r.paid_date::text,
                        'entry_no', r.entry_no, 'paid_by', r.paid_by)) ORDER BY r.id), '[]')
                    FROM refund_payouts r WHERE r.ticket_id = p_ticket)))
$$;

-- POST /v1/settlement/refunds/{ticket_id}/payout {method, reference, amount_cents, paid_date}:
-- the refund (or exchange value) owed to the customer is paid out: Dr 2241 / Cr the method's
-- account. The amount defaults to what is outstanding; less is a partial payout; more is 422.
CREATE OR REPLACE FUNCTION cmd_pay_refund(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := nullif(a->>'ticket_id', '');
    v_method text := payment_method_of(a->>'method');
    v_out bigint;
    v_amount bigint;
    v_date date;
    v_entry bigint;
    cs charge_sets;
BEGIN
    PERFORM require_finance(p_principal);
    IF v_method IS NULL OR v_method = 'unspecified' THEN
        PERFORM fail(400, 'bad_method',
                     'method must be one of cash, card, wechat_pay, alipay, bank_transfer');
    END IF;
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = v_ticket FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('ticket %s has no charges', v_ticket));
    END IF;
    v_out := refund_outstanding(v_ticket);
    IF v_out <= 0 THEN
        PERFORM fail(409, 'nothing_payable',
                     format('nothing is owed to the customer of ticket %s', v_ticket));
    END IF;
    v_amount := coalesce((a->>'amount_cents')::bigint, v_out);
    IF v_amount <= 0 OR v_amount > v_out THEN
        PERFORM fail(422, 'bad_amount', format('amount_cents must be 1..%s (what is outstanding)', v_out));
    END IF;
    v_date := coalesce((a->>'paid_date')::date, today_sh());
    IF v_date > today_sh() THEN
        PERFORM fail(422, 'future_date', 'paid_date is in the future');
    END IF;
    v_entry := post_entry('refund-payout:' || p_req, 'refund_payout', v_date,
        format('refund payout of ticket %s by %s%s', v_ticket, v_method,
               coalesce(' ref ' || nullif(a->>'reference', ''), '')),
        jsonb_build_array(
            jsonb_build_object('account', '2241', 'debit', v_amount, 'payer', 'seller',
                               'ticket_id', v_ticket, 'center', cs.center, 'region', cs.region,
                               'manufacturer', cs.manufacturer),
            jsonb_build_object('account', payment_account(v_method), 'credit', v_amount,
                               'payer', 'seller', 'ticket_id', v_ticket, 'center', cs.center,
                               'region', cs.region, 'manufacturer', cs.manufacturer)),
        v_ticket, NULL, NULL, NULL, p_principal, p_req);
    INSERT INTO refund_payouts(ticket_id, method, reference, amount_cents, paid_date, entry_no,
                               paid_by, request_id)
        VALUES (v_ticket, v_method, nullif(a->>'reference', ''), v_amount, v_date, v_entry,
                p_principal->>'subject', p_req);
    PERFORM audit_write(p_principal, p_req, 'refund_payout', 'ticket', v_ticket,
        jsonb_build_object('method', v_method, 'amount_cents', v_amount, 'entry', v_entry,
                           'reference', a->>'reference'));
    RETURN jsonb_build_object('status', 200, 'body', refund_json(v_ticket));
END $$;

-- GET /v1/settlement/refunds/{ticket_id}: what was owed, paid out and is outstanding.
CREATE OR REPLACE FUNCTION read_refund(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    IF NOT EXISTS (SELECT 1 FROM charge_sets WHERE ticket_id = a->>'ticket_id') THEN
        PERFORM fail(404, 'not_found', format('ticket %s has no charges', a->>'ticket_id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', refund_json(a->>'ticket_id'));
END $$;

-- GET /v1/settlement/refunds: the tickets whose refunds payable are not cleared yet.
CREATE OR REPLACE FUNCTION read_refunds(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('refunds',
        (SELECT coalesce(jsonb_agg(refund_json(t.ticket_id) ORDER BY t.ticket_id), '[]')
         FROM (SELECT ticket_id FROM journal_lines WHERE account = '2241' AND ticket_id IS NOT NULL
               GROUP BY ticket_id HAVING sum(credit_cents - debit_cents) > 0) t)));
END $$;
