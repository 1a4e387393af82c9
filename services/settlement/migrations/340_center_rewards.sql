-- settlement: the centres' market-maintenance rewards (issue 19.5; docs/scorecard.md,
-- decision 0027). intake.CenterRewardPosted is booked once per reward as an expense owed to the
-- centre: Dr 6604 market-maintenance rewards / Cr 2243 rewards payable to centres. The
-- function is on_center_reward (sql/ledger.sql).
INSERT INTO accounts VALUES
    ('2243', 'Rewards payable to centres 应付网点奖励', 'liability'),
    ('6604', 'Market-maintenance rewards 市场维护奖励', 'expense')
ON CONFLICT (code) DO NOTHING;

ALTER TABLE journal_entries DROP CONSTRAINT IF EXISTS journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('charge', 'customer_payment', 'seller_refund', 'claim_decision',
                    'claim_payment', 'reversal', 'stock', 'refund_payout', 'center_reward'));
