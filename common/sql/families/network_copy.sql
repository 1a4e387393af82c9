-- schemas: intake surveys
-- common: the local copy of the people service's regions kept by the services that scope by
-- region (people.RegionCreated). Applied only to the schemas the first line names.

CREATE OR REPLACE FUNCTION on_region_created(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'region'->>'code', e->'region'->>'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name;
$$;
