-- schemas: intake notify surveys
-- common: the settings reader and the service clock of the services that keep a `settings`
-- table of whole numbers (name text, value bigint: the service writes its configuration there
-- at start). The first line names the schemas this file is applied to (the runner skips it for
-- the others: parts and settlement keep text settings, people and warranty none).

CREATE OR REPLACE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT value FROM settings WHERE name = p_name $$;

-- The service clock: database time plus the test clock offset, counted in test mode only (the
-- service refuses to start with an offset otherwise). One read of the settings table: it is on
-- every command's path.
CREATE OR REPLACE FUNCTION svc_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT now() + make_interval(secs => coalesce(
        (SELECT o.value FROM settings o, settings t
          WHERE o.name = 'clock_offset_s' AND t.name = 'test_mode' AND t.value <> 0), 0))
$$;
