-- parts keeps its copy of the network's centres from the people service's CenterChanged events
-- (stream "people"), as intake does: a centre opened through /v1/centers is a site here at
-- once, so it can receive stock and transfers without seed SQL (deploy/demo/parts.sql is only
-- the first load). The handler is an upsert: an event delivered again changes nothing.
-- Warehouses stay as they are (the people service publishes no warehouse events).

-- Site codes follow the people service's centre codes (which also allow '_' and '-'); every
-- code the old rule accepted still fits.
ALTER TABLE sites DROP CONSTRAINT sites_code_check;
ALTER TABLE sites ADD CONSTRAINT sites_code_check CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,15}$');

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO sites(code, name, kind, region)
    VALUES (e->'center'->>'code', coalesce(e->'center'->>'name', e->'center'->>'code'), 'center',
            e->'center'->>'region')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region
        WHERE sites.kind = 'center';
$$;
