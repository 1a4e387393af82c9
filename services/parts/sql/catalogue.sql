-- parts: catalogue functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION require_sku(p_sku text) RETURNS skus
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c skus;
BEGIN
    SELECT * INTO c FROM skus WHERE sku = p_sku;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_sku',
                     format('SKU %s is not in the catalogue (the catalogue: GET /v1/parts/skus)', p_sku));
    END IF;
    RETURN c;
END $$;

CREATE OR REPLACE FUNCTION sku_json(c skus) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'sku', c.sku, 'name', c.name, 'brand', c.brand, 'manufacturer', c.manufacturer,
        'category', c.category, 'compatible_models', to_jsonb(c.compatible_models),
        'unit_cost_cents', c.unit_cost_cents, 'list_price_cents', c.list_price_cents,
        'currency', c.currency, 'defective_return_required', c.defective_return_required,
        'active', c.active))
$$;

CREATE OR REPLACE FUNCTION cmd_list_skus(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('skus',
        coalesce((SELECT jsonb_agg(sku_json(c) ORDER BY c.sku) FROM skus c
                  WHERE (a->>'brand' IS NULL OR lower(c.brand) = lower(a->>'brand'))
                    AND (a->>'model' IS NULL OR a->>'model' = ANY (c.compatible_models))
                    AND (a->>'q' IS NULL OR c.sku ILIKE '%' || (a->>'q') || '%'
                         OR c.name ILIKE '%' || (a->>'q') || '%')), '[]')));
END $$;

CREATE OR REPLACE FUNCTION cmd_put_sku(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c skus;
    v_new boolean;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse maintains the catalogue');
    END IF;
    v_new := NOT EXISTS (SELECT 1 FROM skus WHERE sku = a->>'sku');
    INSERT INTO skus(sku, name, brand, manufacturer, category, compatible_models, unit_cost_cents,
                     list_price_cents, currency, defective_return_required, active)
    VALUES (a->>'sku', a->>'name', a->>'brand', a->>'manufacturer',
            coalesce(a->>'category', 'part'),
            coalesce(ARRAY(SELECT jsonb_array_elements_text(a->'compatible_models')), '{}'),
            (a->>'unit_cost_cents')::bigint, (a->>'list_price_cents')::bigint,
            coalesce(a->>'currency', 'CNY'),
            coalesce((a->>'defective_return_required')::boolean, false),
            coalesce((a->>'active')::boolean, true))
    ON CONFLICT (sku) DO UPDATE SET
        name = EXCLUDED.name, brand = EXCLUDED.brand, manufacturer = EXCLUDED.manufacturer,
        category = EXCLUDED.category, compatible_models = EXCLUDED.compatible_models,
        unit_cost_cents = EXCLUDED.unit_cost_cents, list_price_cents = EXCLUDED.list_price_cents,
        currency = EXCLUDED.currency,
        defective_return_required = EXCLUDED.defective_return_required,
        active = EXCLUDED.active, updated_at = now()
    RETURNING * INTO c;
    PERFORM audit_write(p_principal, p_req, CASE WHEN v_new THEN 'create' ELSE 'update' END,
                        'sku', c.sku, sku_json(c));
    RETURN jsonb_build_object('status', CASE WHEN v_new THEN 201 ELSE 200 END, 'body', sku_json(c));
END $$;

-- Every change of the catalogue, however made (the route, the demo's SQL, a test's INSERT), is
-- announced as parts.SkuChanged: intake keeps its copy from these (docs/parts.md, "Catalogue").
CREATE OR REPLACE FUNCTION skus_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.brand, OLD.name, OLD.category, OLD.active)
                            IS NOT DISTINCT FROM (NEW.brand, NEW.name, NEW.category, NEW.active) THEN
        RETURN NULL; -- nothing intake keeps changed
    END IF;
    PERFORM emit('parts', 'parts.SkuChanged', jsonb_build_object(
        'sku', NEW.sku, 'brand', NEW.brand, 'name', NEW.name, 'category', NEW.category,
        'active', NEW.active));
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER skus_announce AFTER INSERT OR UPDATE ON skus
    FOR EACH ROW EXECUTE FUNCTION skus_announce();
