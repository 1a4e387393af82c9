-- intake keeps its own copy of the parts catalogue (parts.SkuChanged), so that a diagnosis or a
-- parts request naming an unknown SKU is refused at once (422 unknown_sku) instead of being
-- accepted here and backordered for ever by parts. Upserted by on_sku_changed().
CREATE TABLE part_skus (
    sku        text PRIMARY KEY,
    brand      text,
    name       text,
    category   text NOT NULL DEFAULT 'part',
    active     boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
