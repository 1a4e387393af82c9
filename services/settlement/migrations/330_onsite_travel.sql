-- settlement: the travel fee of on-site service orders (issue 19.3, docs/onsite.md). When intake
-- reports an order done (intake.ServiceOrderChanged, to_state done) its travel fee, the rate per
-- km of this price list times the distance, becomes a charge set of kind `onsite` keyed by the
-- order id, posted like a repair's charges. Functions: sql/onsite.sql.

-- Rates per km, per device category ('*' for any), effective from a date. Customers pay the list
-- rate, manufacturers (covered work) the claim rate.
CREATE TABLE travel_rates (
    category           text NOT NULL DEFAULT '*',
    effective_from     date NOT NULL,
    list_cents_per_km  bigint NOT NULL CHECK (list_cents_per_km >= 0),
    claim_cents_per_km bigint NOT NULL CHECK (claim_cents_per_km >= 0),
    PRIMARY KEY (category, effective_from)
);
INSERT INTO travel_rates VALUES ('*', '2000-01-01', 200, 150);

ALTER TABLE charge_sets DROP CONSTRAINT IF EXISTS charge_sets_kind_check;
ALTER TABLE charge_sets ADD CONSTRAINT charge_sets_kind_check
    CHECK (kind IN ('repair', 'refunded', 'exchanged', 'declined', 'onsite'));
