-- intake keeps its copy of the network (regions, centres, brands) from the people service's
-- events, so a centre opened through the API takes tickets at once, without seed SQL. The
-- handlers are upserts: an event delivered again changes nothing.

CREATE FUNCTION on_region_created(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'region'->>'code', e->'region'->>'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name;
$$;

CREATE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'center'->>'region', e->'center'->>'region')
    ON CONFLICT DO NOTHING;
    INSERT INTO centers(code, name, region)
    VALUES (e->'center'->>'code', e->'center'->>'name', e->'center'->>'region')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region;
$$;

CREATE FUNCTION on_brand_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO brands(brand, manufacturer) VALUES (e->'brand'->>'name', e->'brand'->>'manufacturer')
    ON CONFLICT (brand) DO UPDATE SET manufacturer = EXCLUDED.manufacturer;
$$;
