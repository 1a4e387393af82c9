-- settlement: how money moves in and out — the customer's payment method at hand-back, and the
-- payout of refunds payable (account 2241) to the customer.
--
-- Methods: cash | card | wechat_pay | alipay | bank_transfer, each into an account of its own
-- (1011..1015). A hand-back that does not say how the customer paid ("unspecified": an empty
-- payment_method, e.g. from an intake that does not send it yet) is posted to 1001 as before.

INSERT INTO accounts VALUES
    ('1011', 'Cash on hand 库存现金', 'asset'),
    ('1012', 'Card payments to settle (POS) 银行卡待清算', 'asset'),
    ('1013', 'WeChat Pay balance 微信支付', 'asset'),
    ('1014', 'Alipay balance 支付宝', 'asset'),
    ('1015', 'Bank account (transfers) 银行存款-转账', 'asset')
ON CONFLICT (code) DO NOTHING;

-- The method's canonical name: 'unspecified' for empty/absent, NULL when unknown.
CREATE FUNCTION payment_method_of(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(btrim(p), '') = '' THEN 'unspecified'
                WHEN lower(btrim(p)) IN ('cash', 'card', 'wechat_pay', 'alipay', 'bank_transfer')
                    THEN lower(btrim(p)) END
$$;

CREATE FUNCTION payment_account(p_method text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_method WHEN 'cash' THEN '1011' WHEN 'card' THEN '1012'
                         WHEN 'wechat_pay' THEN '1013' WHEN 'alipay' THEN '1014'
                         WHEN 'bank_transfer' THEN '1015' ELSE '1001' END
$$;

ALTER TABLE charge_sets ADD COLUMN payment_method text;

-- Payouts of refunds payable: one row per payout, each with its ledger entry.
CREATE TABLE refund_payouts (
    id           bigserial PRIMARY KEY,
    ticket_id    text NOT NULL,
    method       text NOT NULL CHECK (method IN ('cash', 'card', 'wechat_pay', 'alipay',
                                                 'bank_transfer')),
    reference    text,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    paid_date    date NOT NULL,
    entry_no     bigint NOT NULL REFERENCES journal_entries(entry_no),
    paid_by      text,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refund_payouts_ticket ON refund_payouts (ticket_id);

-- What is still owed to the customer of a ticket: its refunds payable (2241) balance.
CREATE FUNCTION refund_outstanding(p_ticket text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(credit_cents - debit_cents), 0)::bigint
    FROM journal_lines WHERE account = '2241' AND ticket_id = p_ticket
$$;

CREATE FUNCTION refund_json(p_ticket text) RETURNS jsonb LANGUAGE sql STABLE AS $$
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
CREATE FUNCTION cmd_pay_refund(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
CREATE FUNCTION read_refund(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    IF NOT EXISTS (SELECT 1 FROM charge_sets WHERE ticket_id = a->>'ticket_id') THEN
        PERFORM fail(404, 'not_found', format('ticket %s has no charges', a->>'ticket_id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', refund_json(a->>'ticket_id'));
END $$;

-- GET /v1/settlement/refunds: the tickets whose refunds payable are not cleared yet.
CREATE FUNCTION read_refunds(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('refunds',
        (SELECT coalesce(jsonb_agg(refund_json(t.ticket_id) ORDER BY t.ticket_id), '[]')
         FROM (SELECT ticket_id FROM journal_lines WHERE account = '2241' AND ticket_id IS NOT NULL
               GROUP BY ticket_id HAVING sum(credit_cents - debit_cents) > 0) t)));
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
