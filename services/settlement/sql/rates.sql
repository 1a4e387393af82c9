-- settlement: rates functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Writing the price list (POST /v1/settlement/rates/{labour,parts,fees}; decision 0032). A change
-- is a new row of the same key from `effective_from`; a row whose date has come (today or
-- earlier, Asia/Shanghai) is never changed, so what was charged stays explained by the row in
-- force on its business date. A row dated later than today, not yet in force, is replaced by
-- writing the same key and date again (the audit row keeps what it held). Every write is
-- audited (action set_rate, before and after) and published as settlement.RateChanged.

-- people.BrandChanged: keep the brand's manufacturer (a replay changes nothing).
CREATE OR REPLACE FUNCTION on_brand_changed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->'brand'->>'name', '') = '' OR coalesce(e->'brand'->>'manufacturer', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO brands(brand, manufacturer) VALUES (e->'brand'->>'name', e->'brand'->>'manufacturer')
    ON CONFLICT (brand) DO UPDATE SET manufacturer = EXCLUDED.manufacturer;
END $$;

-- A manufacturer a price-list row may name: '*', one of the people service's brands' makers, or
-- one the price list or the claim handling already holds.
CREATE OR REPLACE FUNCTION known_manufacturer(p text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p = '*'
        OR EXISTS (SELECT 1 FROM brands WHERE manufacturer = p)
        OR EXISTS (SELECT 1 FROM labour_rates WHERE manufacturer = p)
        OR EXISTS (SELECT 1 FROM parts_prices WHERE manufacturer = p)
        OR EXISTS (SELECT 1 FROM fee_rates WHERE manufacturer = p)
        OR EXISTS (SELECT 1 FROM claim_handling WHERE manufacturer = p)
$$;

-- The checks every write shares: the writer's role, the date, the manufacturer, the description
-- of a new code. Returns the effective date.
CREATE OR REPLACE FUNCTION rate_write_checks(p_principal jsonb, a jsonb, p_code_field text,
                                             p_known boolean, p_description text) RETURNS date
LANGUAGE plpgsql AS $$
DECLARE
    v_from date := (a->>'effective_from')::date;
BEGIN
    PERFORM require_finance(p_principal);
    IF v_from < today_sh() THEN
        PERFORM fail(422, 'effective_in_past', format(
            'effective_from %s is in the past: a change applies from today (%s) or a later date; '
            'what was charged before keeps its price', v_from, today_sh()));
    END IF;
    IF NOT known_manufacturer(coalesce(nullif(a->>'manufacturer', ''), '*')) THEN
        PERFORM fail(422, 'unknown_manufacturer', format(
            'manufacturer %s is not known: use * or the manufacturer of a brand', a->>'manufacturer'));
    END IF;
    IF NOT p_known AND coalesce(btrim(p_description), '') = '' THEN
        PERFORM fail(422, 'unknown_code', format(
            '%s %s is not in the price list: a new code needs a description', p_code_field,
            a->>p_code_field));
    END IF;
    RETURN v_from;
END $$;

-- Write (or replace, when not yet in force) one version and return what the caller answers;
-- p_before is the row of the same key and date before the write (NULL: none).
CREATE OR REPLACE FUNCTION rate_written(p_req text, p_principal jsonb, p_table text, p_key text,
                                        p_code text, p_category text, p_manufacturer text,
                                        p_from date, p_before jsonb, p_after jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_write(p_principal, p_req, 'set_rate', p_table, p_key,
                        jsonb_strip_nulls(jsonb_build_object('before', p_before, 'after', p_after)));
    PERFORM emit('settlement', 'settlement.RateChanged', jsonb_strip_nulls(jsonb_build_object(
        'table', p_table, 'code', p_code, 'category', p_category, 'manufacturer', p_manufacturer,
        'effective_from', p_from, 'changed_by', coalesce(p_principal->>'subject', 'unknown'),
        'replaced', CASE WHEN p_before IS NOT NULL THEN true END)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', p_after);
END $$;

-- A row of the same key and date that is already in force cannot be replaced.
CREATE OR REPLACE FUNCTION rate_not_in_force(p_from date, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_from <= today_sh() THEN
        PERFORM fail(409, 'rate_in_force', format(
            '%s from %s is in force already and is never changed: write a new version from a later date',
            p_what, p_from));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cmd_set_labour_rate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_code text := a->>'labour_code';
    v_cat text := coalesce(nullif(a->>'category', ''), '*');
    v_mfr text := coalesce(nullif(a->>'manufacturer', ''), '*');
    v_from date;
    prev labour_rates;
    same labour_rates;
    r labour_rates;
BEGIN
    -- the latest version of the same key, else of the same code (its description)
    SELECT * INTO prev FROM labour_rates
        WHERE labour_code = v_code
        ORDER BY (category = v_cat AND manufacturer = v_mfr) DESC, effective_from DESC LIMIT 1;
    v_from := rate_write_checks(p_principal, a, 'labour_code', prev.labour_code IS NOT NULL,
                                a->>'description');
    SELECT * INTO same FROM labour_rates WHERE labour_code = v_code AND category = v_cat
        AND manufacturer = v_mfr AND effective_from = v_from FOR UPDATE;
    IF FOUND THEN
        PERFORM rate_not_in_force(v_from, format('labour rate %s (%s, %s)', v_code, v_cat, v_mfr));
    END IF;
    INSERT INTO labour_rates(labour_code, category, manufacturer, effective_from, description,
                             list_flat_cents, list_hour_cents, claim_flat_cents, claim_hour_cents)
    VALUES (v_code, v_cat, v_mfr, v_from,
            coalesce(nullif(btrim(a->>'description'), ''), prev.description),
            (a->>'list_flat_cents')::bigint, coalesce((a->>'list_hour_cents')::bigint, 0),
            (a->>'claim_flat_cents')::bigint, coalesce((a->>'claim_hour_cents')::bigint, 0))
    ON CONFLICT (labour_code, category, manufacturer, effective_from) DO UPDATE
        SET description = EXCLUDED.description, list_flat_cents = EXCLUDED.list_flat_cents,
            list_hour_cents = EXCLUDED.list_hour_cents, claim_flat_cents = EXCLUDED.claim_flat_cents,
            claim_hour_cents = EXCLUDED.claim_hour_cents
    RETURNING * INTO r;
    RETURN rate_written(p_req, p_principal, 'labour', format('%s/%s/%s/%s', v_code, v_cat, v_mfr, v_from),
        v_code, v_cat, v_mfr, v_from, CASE WHEN same.labour_code IS NOT NULL THEN to_jsonb(same) END,
        to_jsonb(r));
END $$;

CREATE OR REPLACE FUNCTION cmd_set_part_price(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_sku text := a->>'sku';
    v_from date;
    prev parts_prices;
    same parts_prices;
    r parts_prices;
BEGIN
    SELECT * INTO prev FROM parts_prices WHERE sku = v_sku ORDER BY effective_from DESC LIMIT 1;
    v_from := rate_write_checks(p_principal, a, 'sku', prev.sku IS NOT NULL, a->>'description');
    SELECT * INTO same FROM parts_prices WHERE sku = v_sku AND effective_from = v_from FOR UPDATE;
    IF FOUND THEN
        PERFORM rate_not_in_force(v_from, format('the price of %s', v_sku));
    END IF;
    INSERT INTO parts_prices(sku, effective_from, description, manufacturer, list_cents, cost_cents,
                             return_required, warranty_covered)
    VALUES (v_sku, v_from, coalesce(nullif(btrim(a->>'description'), ''), prev.description),
            coalesce(nullif(a->>'manufacturer', ''), prev.manufacturer),
            (a->>'list_cents')::bigint, (a->>'cost_cents')::bigint,
            coalesce((a->>'return_required')::boolean, prev.return_required, false),
            coalesce((a->>'warranty_covered')::boolean, prev.warranty_covered, true))
    ON CONFLICT (sku, effective_from) DO UPDATE
        SET description = EXCLUDED.description, manufacturer = EXCLUDED.manufacturer,
            list_cents = EXCLUDED.list_cents, cost_cents = EXCLUDED.cost_cents,
            return_required = EXCLUDED.return_required, warranty_covered = EXCLUDED.warranty_covered
    RETURNING * INTO r;
    RETURN rate_written(p_req, p_principal, 'parts', format('%s/%s', v_sku, v_from), v_sku, NULL,
        r.manufacturer, v_from, CASE WHEN same.sku IS NOT NULL THEN to_jsonb(same) END, to_jsonb(r));
END $$;

CREATE OR REPLACE FUNCTION cmd_set_fee_rate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_code text := a->>'fee_code';
    v_cat text := coalesce(nullif(a->>'category', ''), '*');
    v_mfr text := coalesce(nullif(a->>'manufacturer', ''), '*');
    v_from date;
    prev fee_rates;
    same fee_rates;
    r fee_rates;
BEGIN
    SELECT * INTO prev FROM fee_rates
        WHERE fee_code = v_code
        ORDER BY (category = v_cat AND manufacturer = v_mfr) DESC, effective_from DESC LIMIT 1;
    v_from := rate_write_checks(p_principal, a, 'fee_code', prev.fee_code IS NOT NULL,
                                a->>'description');
    SELECT * INTO same FROM fee_rates WHERE fee_code = v_code AND category = v_cat
        AND manufacturer = v_mfr AND effective_from = v_from FOR UPDATE;
    IF FOUND THEN
        PERFORM rate_not_in_force(v_from, format('fee %s (%s, %s)', v_code, v_cat, v_mfr));
    END IF;
    INSERT INTO fee_rates(fee_code, category, manufacturer, effective_from, description, applies,
                          list_cents, claim_cents, active)
    VALUES (v_code, v_cat, v_mfr, v_from, coalesce(nullif(btrim(a->>'description'), ''), prev.description),
            coalesce(nullif(a->>'applies', ''), prev.applies, 'always'),
            (a->>'list_cents')::bigint, (a->>'claim_cents')::bigint,
            coalesce((a->>'active')::boolean, true))
    ON CONFLICT (fee_code, category, manufacturer, effective_from) DO UPDATE
        SET description = EXCLUDED.description, applies = EXCLUDED.applies,
            list_cents = EXCLUDED.list_cents, claim_cents = EXCLUDED.claim_cents,
            active = EXCLUDED.active
    RETURNING * INTO r;
    RETURN rate_written(p_req, p_principal, 'fees', format('%s/%s/%s/%s', v_code, v_cat, v_mfr, v_from),
        v_code, v_cat, v_mfr, v_from, CASE WHEN same.fee_code IS NOT NULL THEN to_jsonb(same) END,
        to_jsonb(r));
END $$;

-- The handling surcharge on claimed parts, per manufacturer ('*' for any).
CREATE OR REPLACE FUNCTION cmd_set_claim_handling(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_mfr text := coalesce(nullif(a->>'manufacturer', ''), '*');
    v_from date;
    same claim_handling;
    r claim_handling;
BEGIN
    v_from := rate_write_checks(p_principal, a, 'manufacturer', true, NULL);
    SELECT * INTO same FROM claim_handling WHERE manufacturer = v_mfr AND effective_from = v_from FOR UPDATE;
    IF FOUND THEN
        PERFORM rate_not_in_force(v_from, format('the claim handling of %s', v_mfr));
    END IF;
    INSERT INTO claim_handling(manufacturer, effective_from, handling_bp)
    VALUES (v_mfr, v_from, (a->>'handling_bp')::int)
    ON CONFLICT (manufacturer, effective_from) DO UPDATE SET handling_bp = EXCLUDED.handling_bp
    RETURNING * INTO r;
    RETURN rate_written(p_req, p_principal, 'handling', format('%s/%s', v_mfr, v_from), v_mfr, NULL,
        v_mfr, v_from, CASE WHEN same.manufacturer IS NOT NULL THEN to_jsonb(same) END, to_jsonb(r));
END $$;

-- The on-site travel rate per km, per device category ('*' for any).
CREATE OR REPLACE FUNCTION cmd_set_travel_rate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_cat text := coalesce(nullif(a->>'category', ''), '*');
    v_from date;
    same travel_rates;
    r travel_rates;
BEGIN
    v_from := rate_write_checks(p_principal, a, 'category', true, NULL);
    SELECT * INTO same FROM travel_rates WHERE category = v_cat AND effective_from = v_from FOR UPDATE;
    IF FOUND THEN
        PERFORM rate_not_in_force(v_from, format('the travel rate of %s', v_cat));
    END IF;
    INSERT INTO travel_rates(category, effective_from, list_cents_per_km, claim_cents_per_km,
                             created_by, created_at)
    VALUES (v_cat, v_from, (a->>'list_cents_per_km')::bigint, (a->>'claim_cents_per_km')::bigint,
            actor(p_principal), now())
    ON CONFLICT (category, effective_from) DO UPDATE
        SET list_cents_per_km = EXCLUDED.list_cents_per_km, claim_cents_per_km = EXCLUDED.claim_cents_per_km,
            created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at
    RETURNING * INTO r;
    RETURN rate_written(p_req, p_principal, 'travel', format('%s/%s', v_cat, v_from), v_cat, v_cat,
        NULL, v_from, CASE WHEN same.category IS NOT NULL THEN to_jsonb(same) END, to_jsonb(r));
END $$;
