-- surveys keeps its copy of the network (regions, centres) from the people service's events
-- (stream "people"), as intake does: a centre opened through /v1/centers can have complaints
-- and callbacks at once, scoped to its region, without seed SQL (deploy/demo/surveys.sql is only
-- the first load). The handlers are upserts: an event delivered again changes nothing.

CREATE OR REPLACE FUNCTION on_region_created(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'region'->>'code', e->'region'->>'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name;
$$;

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'center'->>'region', e->'center'->>'region')
    ON CONFLICT DO NOTHING;
    INSERT INTO centers(code, name, region)
    VALUES (e->'center'->>'code', e->'center'->>'name', e->'center'->>'region')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region;
$$;
