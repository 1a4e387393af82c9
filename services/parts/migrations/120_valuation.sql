-- parts: stock valued at cost (moving average per site x SKU), and every valued movement
-- published as parts.StockValued so that settlement can post it to the ledger.
--
-- Cost method: moving (weighted) average per site and SKU.
--   * units coming in from outside (a receipt, a positive adjustment with no stock to average)
--     are valued at the catalogue's unit_cost_cents at that moment (the purchase price; change
--     it with PUT /v1/parts/skus before receiving at a new price): the site's value grows by
--     qty x unit cost;
--   * units going out (issue, transfer_out, scrap of good units, negative adjustment) take
--     round(value x qty / on_hand) of the site's value; the last units take what is left, so a
--     site with no stock has no value and rounding never leaves a residue;
--   * a positive adjustment is valued at the site's current average (catalogue cost when the
--     site has none);
--   * a transfer carries the value that left its source (held "in transit" per transfer and
--     SKU) into its destination, where it joins the destination's average;
--   * defective units (the defective bucket) are a pool of their own: a defective return is
--     valued at the catalogue unit cost, scrapping defective units takes their average.
-- Reservations and releases change no value.

CREATE TABLE stock_values (
    site                  text NOT NULL REFERENCES sites(code),
    sku                   text NOT NULL REFERENCES skus(sku),
    value_cents           bigint NOT NULL DEFAULT 0 CHECK (value_cents >= 0),
    defective_value_cents bigint NOT NULL DEFAULT 0 CHECK (defective_value_cents >= 0),
    PRIMARY KEY (site, sku)
);

-- The value each movement moved (a magnitude; its direction is the movement's sign) and the
-- pool it moved: stock (good units on hand), defective, or transit.
CREATE TABLE movement_values (
    movement_id bigint PRIMARY KEY,  -- movements(id); no FK: movements refuse the row lock it takes
    site        text NOT NULL,
    sku         text NOT NULL,
    kind        text NOT NULL,
    bucket      text NOT NULL CHECK (bucket IN ('stock', 'defective')),
    direction   int NOT NULL CHECK (direction IN (1, -1)),
    qty         int NOT NULL,
    value_cents bigint NOT NULL CHECK (value_cents >= 0),
    transfer_id text
);
CREATE INDEX movement_values_site_sku ON movement_values (site, sku);

-- Value in transit per shipped transfer and SKU: what left the source, less what arrived.
CREATE TABLE transit_values (
    transfer_id   text NOT NULL REFERENCES transfers(id),
    sku           text NOT NULL REFERENCES skus(sku),
    qty           int NOT NULL CHECK (qty >= 0),
    value_cents   bigint NOT NULL CHECK (value_cents >= 0),
    PRIMARY KEY (transfer_id, sku)
);

-- Stock that existed before valuation began is valued at the catalogue cost (published as
-- kind "opening" so that settlement books it too). A fresh installation has none.
INSERT INTO stock_values(site, sku, value_cents, defective_value_cents)
SELECT s.site, s.sku, s.on_hand::bigint * c.unit_cost_cents, s.defective::bigint * c.unit_cost_cents
FROM stock s JOIN skus c USING (sku)
ON CONFLICT DO NOTHING;
INSERT INTO transit_values(transfer_id, sku, qty, value_cents)
SELECT l.transfer_id, l.sku, l.qty, l.qty::bigint * c.unit_cost_cents
FROM transfers t JOIN transfer_lines l ON l.transfer_id = t.id JOIN skus c ON c.sku = l.sku
WHERE t.state = 'shipped'
ON CONFLICT DO NOTHING;
-- (Guarded by the data: emit() and ts() live in the family files, applied after the numbered
-- migrations, so on a fresh database - which has nothing to value - they do not exist yet.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM stock_values WHERE value_cents > 0 OR defective_value_cents > 0)
       OR EXISTS (SELECT 1 FROM transit_values WHERE value_cents > 0) THEN
        PERFORM emit('parts', 'parts.StockValued', jsonb_build_object(
               'kind', 'opening', 'site', x.site, 'sku', x.sku, 'bucket', x.bucket,
               'direction', 1, 'value_cents', x.value_cents, 'at', ts(now()), 'transfer_id', x.transfer_id))
    FROM (SELECT site, sku, 'stock' AS bucket, value_cents, NULL::text AS transfer_id
          FROM stock_values WHERE value_cents > 0
          UNION ALL
          SELECT site, sku, 'defective', defective_value_cents, NULL FROM stock_values
          WHERE defective_value_cents > 0
          UNION ALL
          SELECT t.from_site, v.sku, 'transit', v.value_cents, v.transfer_id
          FROM transit_values v JOIN transfers t ON t.id = v.transfer_id WHERE v.value_cents > 0) x;
    END IF;
END $$;

-- The proof for values: every site x SKU's value equals the signed sum of its movements' values
-- (plus its opening value), values are never negative, no stock means no value, and what is in
-- transit is exactly what shipped transfers still carry.
CREATE TABLE opening_values (
    site                  text NOT NULL,
    sku                   text NOT NULL,
    value_cents           bigint NOT NULL,
    defective_value_cents bigint NOT NULL,
    PRIMARY KEY (site, sku)
);
INSERT INTO opening_values SELECT site, sku, value_cents, defective_value_cents FROM stock_values;

