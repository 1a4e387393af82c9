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

