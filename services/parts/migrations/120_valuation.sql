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

CREATE FUNCTION stock_valued_event(mv movement_values, p_at timestamptz, p_ticket text,
                                   p_reason text, p_unit bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'movement_id', mv.movement_id, 'at', ts(p_at), 'kind', mv.kind, 'site', mv.site,
        'sku', mv.sku, 'qty', mv.qty, 'value_cents', mv.value_cents, 'bucket', mv.bucket,
        'direction', mv.direction, 'transfer_id', mv.transfer_id, 'ticket_id', p_ticket,
        'reason', p_reason, 'unit_cost_cents', p_unit)
$$;

-- After every movement: value it, keep the site's value, and publish parts.StockValued.
CREATE FUNCTION movement_value() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v stock_values;
    t transit_values;
    r movement_values;
    v_unit bigint;
    v_prev int;
    v_value bigint;
BEGIN
    IF NEW.kind IN ('reserve', 'release') THEN
        RETURN NULL;
    END IF;
    INSERT INTO stock_values(site, sku) VALUES (NEW.site, NEW.sku) ON CONFLICT DO NOTHING;
    SELECT * INTO v FROM stock_values WHERE site = NEW.site AND sku = NEW.sku FOR UPDATE;
    SELECT unit_cost_cents INTO v_unit FROM skus WHERE sku = NEW.sku;
    v_unit := coalesce(v_unit, 0);
    r.movement_id := NEW.id;
    r.site := NEW.site;
    r.sku := NEW.sku;
    r.kind := NEW.kind;
    r.qty := NEW.qty;
    r.transfer_id := NEW.transfer_id;
    IF NEW.d_on_hand > 0 THEN
        v_prev := NEW.on_hand_after - NEW.d_on_hand;
        IF NEW.kind = 'transfer_in' THEN
            SELECT * INTO t FROM transit_values
                WHERE transfer_id = NEW.transfer_id AND sku = NEW.sku FOR UPDATE;
            IF NOT FOUND OR t.qty <= 0 THEN
                v_value := NEW.qty * v_unit; -- shipped before valuation began: catalogue cost
            ELSIF NEW.qty >= t.qty THEN
                v_value := t.value_cents;
            ELSE
                v_value := round(t.value_cents::numeric * NEW.qty / t.qty);
            END IF;
            IF FOUND THEN
                UPDATE transit_values SET qty = greatest(qty - NEW.qty, 0),
                                          value_cents = value_cents - least(v_value, value_cents)
                    WHERE transfer_id = NEW.transfer_id AND sku = NEW.sku;
            END IF;
        ELSIF NEW.kind = 'receipt' THEN
            v_value := NEW.qty * v_unit;
        ELSIF v_prev > 0 THEN
            v_value := round(v.value_cents::numeric * NEW.qty / v_prev);
        ELSE
            v_value := NEW.qty * v_unit;
        END IF;
        r.bucket := 'stock';
        r.direction := 1;
        UPDATE stock_values SET value_cents = value_cents + v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSIF NEW.d_on_hand < 0 THEN
        v_prev := NEW.on_hand_after - NEW.d_on_hand;
        IF NEW.on_hand_after = 0 THEN
            v_value := v.value_cents;
        ELSE
            v_value := least(round(v.value_cents::numeric * NEW.qty / v_prev)::bigint, v.value_cents);
        END IF;
        r.bucket := 'stock';
        r.direction := -1;
        UPDATE stock_values SET value_cents = value_cents - v_value
            WHERE site = NEW.site AND sku = NEW.sku;
        IF NEW.kind = 'transfer_out' THEN
            INSERT INTO transit_values(transfer_id, sku, qty, value_cents)
                VALUES (NEW.transfer_id, NEW.sku, NEW.qty, v_value)
                ON CONFLICT (transfer_id, sku) DO UPDATE
                    SET qty = transit_values.qty + EXCLUDED.qty,
                        value_cents = transit_values.value_cents + EXCLUDED.value_cents;
        END IF;
    ELSIF NEW.d_defective > 0 THEN
        v_value := NEW.qty * v_unit;
        r.bucket := 'defective';
        r.direction := 1;
        UPDATE stock_values SET defective_value_cents = defective_value_cents + v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSIF NEW.d_defective < 0 THEN
        v_prev := NEW.defective_after - NEW.d_defective;
        IF NEW.defective_after = 0 THEN
            v_value := v.defective_value_cents;
        ELSE
            v_value := least(round(v.defective_value_cents::numeric * NEW.qty / v_prev)::bigint,
                             v.defective_value_cents);
        END IF;
        r.bucket := 'defective';
        r.direction := -1;
        UPDATE stock_values SET defective_value_cents = defective_value_cents - v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSE
        RETURN NULL;
    END IF;
    r.value_cents := v_value;
    INSERT INTO movement_values VALUES (r.*);
    IF v_value > 0 THEN
        PERFORM emit('parts', 'parts.StockValued',
                     stock_valued_event(r, NEW.at, NEW.ticket_id, NEW.reason,
                                        CASE WHEN NEW.qty > 0 THEN round(v_value::numeric / NEW.qty)::bigint END),
                     NEW.request_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER movement_value AFTER INSERT ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_value();

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
SELECT emit('parts', 'parts.StockValued', jsonb_build_object(
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

CREATE FUNCTION value_mismatches()
RETURNS TABLE (site text, sku text, problem text, value bigint, expected bigint)
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT mv.site, mv.sku,
               sum(mv.direction * mv.value_cents) FILTER (WHERE mv.bucket = 'stock') AS stock,
               sum(mv.direction * mv.value_cents) FILTER (WHERE mv.bucket = 'defective') AS defective
        FROM movement_values mv GROUP BY mv.site, mv.sku)
    SELECT v.site, v.sku, 'value differs from the sum of its movements', v.value_cents,
           coalesce(o.value_cents, 0) + coalesce(m.stock, 0)
    FROM stock_values v LEFT JOIN m USING (site, sku) LEFT JOIN opening_values o USING (site, sku)
    WHERE v.value_cents <> coalesce(o.value_cents, 0) + coalesce(m.stock, 0)
    UNION ALL
    SELECT v.site, v.sku, 'defective value differs from the sum of its movements',
           v.defective_value_cents, coalesce(o.defective_value_cents, 0) + coalesce(m.defective, 0)
    FROM stock_values v LEFT JOIN m USING (site, sku) LEFT JOIN opening_values o USING (site, sku)
    WHERE v.defective_value_cents <> coalesce(o.defective_value_cents, 0) + coalesce(m.defective, 0)
    UNION ALL
    SELECT s.site, s.sku, 'no units but a value', v.value_cents + v.defective_value_cents, 0
    FROM stock s JOIN stock_values v USING (site, sku)
    WHERE (s.on_hand = 0 AND v.value_cents <> 0) OR (s.defective = 0 AND v.defective_value_cents <> 0)
    UNION ALL
    SELECT t.from_site, v.sku, 'value in transit on a transfer that is not in transit',
           v.value_cents, 0
    FROM transit_values v JOIN transfers t ON t.id = v.transfer_id
    WHERE t.state <> 'shipped' AND v.value_cents <> 0
$$;

-- Totals the ledger must show: parts inventory (good stock), in transit, defective held.
CREATE FUNCTION valuation_totals(OUT stock_cents bigint, OUT transit_cents bigint,
                                 OUT defective_cents bigint)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT coalesce(sum(value_cents), 0) FROM stock_values)::bigint,
           (SELECT coalesce(sum(value_cents), 0) FROM transit_values)::bigint,
           (SELECT coalesce(sum(defective_value_cents), 0) FROM stock_values)::bigint
$$;
