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

