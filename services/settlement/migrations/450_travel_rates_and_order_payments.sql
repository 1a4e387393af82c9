-- Travel rates as data (written through POST /v1/settlement/travel-rates, who and when kept) and
-- the customer's payment of an on-site visit's invoice (POST /v1/service-orders/{id}/payment):
-- the charge set keeps the reference given with it. Functions: sql/onsite.sql.
ALTER TABLE travel_rates ADD COLUMN created_by text;
ALTER TABLE travel_rates ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE travel_rates ADD CONSTRAINT travel_rates_list_max CHECK (list_cents_per_km <= 100000);
ALTER TABLE travel_rates ADD CONSTRAINT travel_rates_claim_max CHECK (claim_cents_per_km <= 100000);
ALTER TABLE charge_sets ADD COLUMN payment_reference text;
