-- settlement: inventory valued in the ledger.
--
-- The parts service values every stock movement at cost (moving average per site x SKU) and
-- publishes parts.StockValued; settlement posts one balanced entry per event (source key
-- "stock:<movement id>"), so that account 1405 always equals the value of the good stock held
-- at all sites, 1406 the value in transit between sites and 1407 the defective parts held.
-- The parts consumed by a repair leave 1405 when parts issues them (Dr 6401 / Cr 1405), so the
-- charge entry no longer carries a cost pair of its own (it would count them twice).

INSERT INTO accounts VALUES
    ('1406', 'Parts in transit 在途备件', 'asset'),
    ('1407', 'Defective parts held 待返厂旧件', 'asset'),
    ('2202', 'Accounts payable (suppliers) 应付账款-供应商', 'liability'),
    ('6402', 'Stock gains, losses and scrap 存货盘盈盘亏及报废', 'expense')
ON CONFLICT (code) DO NOTHING;

ALTER TABLE journal_entries DROP CONSTRAINT IF EXISTS journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('charge', 'customer_payment', 'seller_refund', 'claim_decision',
                    'claim_payment', 'reversal', 'stock', 'refund_payout'));

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

-- The accounts of a valued movement: (debit, credit).
CREATE FUNCTION stock_accounts(p_kind text, p_bucket text, p_direction int,
                               OUT debit text, OUT credit text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_kind = 'opening' THEN
        debit := CASE p_bucket WHEN 'stock' THEN '1405' WHEN 'defective' THEN '1407'
                               WHEN 'transit' THEN '1406' END;
        credit := '2202';
    ELSIF p_kind = 'receipt' AND p_bucket = 'stock' AND p_direction = 1 THEN
        debit := '1405'; credit := '2202';
    ELSIF p_kind = 'issue' AND p_bucket = 'stock' AND p_direction = -1 THEN
        debit := '6401'; credit := '1405';
    ELSIF p_kind = 'transfer_out' AND p_bucket = 'stock' AND p_direction = -1 THEN
        debit := '1406'; credit := '1405';
    ELSIF p_kind = 'transfer_in' AND p_bucket = 'stock' AND p_direction = 1 THEN
        debit := '1405'; credit := '1406';
    ELSIF p_kind = 'transit_loss' THEN
        debit := '6402'; credit := '1406';
    ELSIF p_kind IN ('adjustment', 'scrap') AND p_bucket = 'stock' THEN
        IF p_direction = 1 THEN
            debit := '1405'; credit := '6402';
        ELSE
            debit := '6402'; credit := '1405';
        END IF;
    ELSIF p_kind = 'scrap' AND p_bucket = 'defective' AND p_direction = -1 THEN
        debit := '6402'; credit := '1407';
    ELSIF p_kind = 'defective_return' AND p_bucket = 'defective' AND p_direction = 1 THEN
        debit := '1407'; credit := '6402';
    END IF;
END $$;

CREATE FUNCTION post_stock_valued(e jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_kind text := nullif(e->>'kind', '');
    v_bucket text := coalesce(nullif(e->>'bucket', ''), 'stock');
    v_dir int := coalesce((e->>'direction')::int, 0);
    v_value bigint := coalesce((e->>'value_cents')::bigint, 0);
    v_site text := nullif(e->>'site', '');
    v_sku text := nullif(e->>'sku', '');
    v_ticket text := nullif(e->>'ticket_id', '');
    v_key text;
    a record;
BEGIN
    IF v_kind IS NULL OR v_site IS NULL OR v_sku IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'StockValued needs kind, site and sku');
    END IF;
    IF v_value < 0 THEN
        PERFORM fail(422, 'invalid_event', 'negative value');
    END IF;
    IF v_value = 0 THEN
        RETURN NULL;
    END IF;
    IF v_kind = 'opening' THEN
        v_key := format('stock-opening:%s:%s:%s:%s', v_site, v_sku, v_bucket,
                        coalesce(e->>'transfer_id', ''));
    ELSIF coalesce(e->>'movement_id', '') = '' THEN
        PERFORM fail(422, 'invalid_event', 'StockValued needs movement_id');
    ELSIF v_kind = 'transit_loss' THEN
        v_key := 'stock-loss:' || (e->>'movement_id');
    ELSE
        v_key := 'stock:' || (e->>'movement_id');
    END IF;
    SELECT * INTO a FROM stock_accounts(v_kind, v_bucket, v_dir);
    IF a.debit IS NULL THEN
        PERFORM fail(422, 'invalid_event',
                     format('StockValued of kind %s, bucket %s, direction %s has no posting',
                            v_kind, v_bucket, v_dir));
    END IF;
    RETURN post_entry(v_key, 'stock', business_date_of(e->>'at'),
        format('%s %s x %s at %s%s', v_kind, coalesce(e->>'qty', '-'), v_sku, v_site,
               CASE WHEN e->>'transfer_id' IS NOT NULL THEN ' (' || (e->>'transfer_id') || ')'
                    WHEN v_ticket IS NOT NULL THEN ' (' || v_ticket || ')' ELSE '' END),
        jsonb_build_array(
            jsonb_build_object('account', a.debit, 'debit', v_value, 'ticket_id', v_ticket,
                               'center', v_site),
            jsonb_build_object('account', a.credit, 'credit', v_value, 'ticket_id', v_ticket,
                               'center', v_site)),
        v_ticket);
END $$;

-- The handler the consumer calls for parts.StockValued. Malformed events are recorded in
-- event_rejects and skipped; anything else rolls back and the event is delivered again.
CREATE FUNCTION on_stock_valued(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM post_stock_valued(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('parts.StockValued', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;
