-- people: catalogue functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- May the caller manage things of region p_region? Admin: always. Region manager: its own.
-- Anyone else: no (403).
CREATE OR REPLACE FUNCTION require_region(p jsonb, p_region text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF is_admin(p) THEN
        RETURN;
    END IF;
    IF p->>'role' = 'region' AND p_region IS NOT NULL AND p->>'region' = p_region THEN
        RETURN;
    END IF;
    IF p->>'role' = 'region' THEN
        PERFORM fail(403, 'forbidden', format('region %s is outside your region (%s)',
                                             coalesce(p_region, '(none)'), p->>'region'));
    END IF;
    PERFORM fail(403, 'forbidden', 'only an administrator or the region''s manager may do this');
END $$;

-- The region a user belongs to, for scoping: their region, or their centre's.
CREATE OR REPLACE FUNCTION user_region(u users) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(u.region, (SELECT region FROM centers WHERE code = u.site))
$$;

CREATE OR REPLACE FUNCTION cmd_create_region(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r regions;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may create regions');
    END IF;
    IF EXISTS (SELECT 1 FROM regions WHERE code = a->>'code') THEN
        PERFORM fail(409, 'duplicate', format('region %s already exists', a->>'code'));
    END IF;
    INSERT INTO regions(code, name) VALUES (a->>'code', a->>'name') RETURNING * INTO r;
    PERFORM audit_write(p, p_req, 'create_region', 'region', r.code);
    PERFORM emit('people', 'people.RegionCreated', jsonb_build_object('region',
        jsonb_build_object('code', r.code, 'name', r.name, 'created_at', ts(r.created_at))), p_req);
    RETURN jsonb_build_object('status', 201, 'body',
        jsonb_build_object('code', r.code, 'name', r.name, 'created_at', ts(r.created_at)));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_regions(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('regions',
        coalesce(jsonb_agg(jsonb_build_object('code', r.code, 'name', r.name,
                                              'created_at', ts(r.created_at)) ORDER BY r.code), '[]')))
    FROM regions r
$$;

CREATE OR REPLACE FUNCTION brand_json(b brands) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', b.name, 'manufacturer', b.manufacturer,
                              'models', to_jsonb(b.models))
$$;

CREATE OR REPLACE FUNCTION cmd_create_brand(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b brands;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may add brands');
    END IF;
    IF EXISTS (SELECT 1 FROM brands WHERE name = a->>'name') THEN
        PERFORM fail(409, 'duplicate', format('brand %s already exists', a->>'name'));
    END IF;
    INSERT INTO brands(name, manufacturer, models)
        VALUES (a->>'name', a->>'manufacturer',
                ARRAY(SELECT DISTINCT jsonb_array_elements_text(coalesce(a->'models', '[]'))))
        RETURNING * INTO b;
    PERFORM audit_write(p, p_req, 'create_brand', 'brand', b.name, brand_json(b));
    PERFORM emit('people', 'people.BrandChanged', jsonb_build_object('brand', brand_json(b)), p_req);
    RETURN jsonb_build_object('status', 201, 'body', brand_json(b));
END $$;

CREATE OR REPLACE FUNCTION cmd_add_models(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b brands;
BEGIN
    IF NOT is_admin(p) THEN
        PERFORM fail(403, 'forbidden', 'only an administrator may change brands');
    END IF;
    UPDATE brands SET models = ARRAY(SELECT DISTINCT m FROM unnest(models || ARRAY(
            SELECT jsonb_array_elements_text(coalesce(a->'models', '[]')))) m ORDER BY m)
        WHERE name = a->>'name' RETURNING * INTO b;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('no brand %s', a->>'name'));
    END IF;
    PERFORM audit_write(p, p_req, 'add_models', 'brand', b.name, a - 'name');
    PERFORM emit('people', 'people.BrandChanged', jsonb_build_object('brand', brand_json(b)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', brand_json(b));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_brands(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('brands',
        coalesce(jsonb_agg(brand_json(b) ORDER BY b.name), '[]')))
    FROM brands b
$$;
