-- schemas: intake notify surveys
-- common: the settings reader and the service clock of the services that keep a `settings`
-- table of whole numbers (name text, value bigint: the service writes its configuration there
-- at start). The first line names the schemas this file is applied to (the runner skips it for
-- the others: parts and settlement keep text settings, people and warranty none).

-- PL/pgSQL, not SQL: a SQL function that reads a table is not inlined, and PostgreSQL 15 plans
-- it again on every call from a PL/pgSQL caller (decision 5); PL/pgSQL keeps its plan for the
-- connection. Both are on every command's path (the promise clock, the ticket's reply).
CREATE OR REPLACE FUNCTION setting(p_name text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
BEGIN
    SELECT s.value INTO v FROM settings s WHERE s.name = p_name;
    RETURN v;
END $$;

-- The service clock: database time plus the test clock offset, counted in test mode only (the
-- service refuses to start with an offset otherwise). One read of the settings table: it is on
-- every command's path.
CREATE OR REPLACE FUNCTION svc_now() RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v bigint;
BEGIN
    SELECT o.value INTO v FROM settings o, settings t
     WHERE o.name = 'clock_offset_s' AND t.name = 'test_mode' AND t.value <> 0;
    RETURN now() + make_interval(secs => coalesce(v, 0));
END $$;
