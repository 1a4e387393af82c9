-- parts: transfers that keep their promises.
--
-- Arrival: only the destination confirms that a transfer arrived (or an admin; the warehouse
-- confirms arrivals at the warehouse, not at a centre). The receipt may say what really came:
-- per SKU, `qty` units in good condition and `damaged` units; what is neither (missing) or
-- damaged is a discrepancy line of the transfer. Only the good units enter the destination's
-- stock; the value of the rest is written off from "in transit" (parts.StockValued kind
-- transit_loss: settlement posts Dr 6402 / Cr 1406), so stock and value follow what arrived.
--
-- Approval: nobody takes another site's stock silently. A transfer waits in state
-- `pending_approval` (nothing reserved) when
--   * it leaves a centre and the requester is not that centre (nor an admin): the source
--     centre approves;
--   * a centre draws from the warehouse and a line would take the warehouse's available stock
--     below its safety level: the warehouse approves.
-- The source site (or an admin) approves (then it is allocated like any new transfer, or waits
-- for stock) or rejects it (cancelled, with the reason); the requester may withdraw it the same
-- way. Both are audited.

ALTER TABLE transfers DROP CONSTRAINT IF EXISTS transfers_state_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_state_check
    CHECK (state IN ('pending_approval', 'waiting', 'allocated', 'shipped', 'received', 'cancelled'));
ALTER TABLE transfers ADD COLUMN approval_site text;     -- whose approval it needs (or needed)
ALTER TABLE transfers ADD COLUMN approval_reason text;   -- why it needs one
ALTER TABLE transfers ADD COLUMN approved_by text;
ALTER TABLE transfers ADD COLUMN approved_at timestamptz;
ALTER TABLE transfers ADD COLUMN received_by text;

CREATE SEQUENCE discrepancy_no;

-- What arrived differently from what was shipped, per transfer and SKU.
CREATE TABLE transfer_discrepancies (
    id          bigint PRIMARY KEY DEFAULT nextval('discrepancy_no'),
    transfer_id text NOT NULL REFERENCES transfers(id),
    sku         text NOT NULL REFERENCES skus(sku),
    shipped     int NOT NULL CHECK (shipped > 0),
    received    int NOT NULL CHECK (received >= 0),
    damaged     int NOT NULL CHECK (damaged >= 0),
    missing     int NOT NULL CHECK (missing >= 0),
    value_cents bigint NOT NULL CHECK (value_cents >= 0),  -- written off from transit
    note        text,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transfer_id, sku),
    CHECK (received + damaged + missing = shipped AND damaged + missing > 0)
);

-- The value proof knows about discrepancies: a received transfer holds no value in transit.
-- (value_mismatches() already flags value left on a transfer that is not travelling.)
