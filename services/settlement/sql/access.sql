-- settlement: access functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Finance (and admin, and services calling on their own behalf) may see everything money.
CREATE OR REPLACE FUNCTION is_finance(p_principal jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'role', '') IN ('finance', 'admin', 'service')
$$;

CREATE OR REPLACE FUNCTION require_finance(p_principal jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT is_finance(p_principal) THEN
        PERFORM fail(403, 'forbidden', 'only finance may do this');
    END IF;
END $$;

-- Scope checks fail closed: may_see() is true or false, never NULL. A centre principal without a
-- site, or a region principal without a region, sees nothing (before, `NOT may_see(...)` was NULL
-- for them and the check that should refuse them let them through).
CREATE OR REPLACE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'finance' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' <> '' AND p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' <> '' AND p_principal->>'site' = p_center
        ELSE false END, false)
$$;

CREATE OR REPLACE FUNCTION reject_event(p_type text, e jsonb, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_rejects(type, ticket_id, reason, payload)
        VALUES (p_type, e->>'ticket_id', p_reason, e);
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'reject_event',
                        'event', e->>'ticket_id', jsonb_build_object('type', p_type, 'reason', p_reason));
END $$;

CREATE OR REPLACE FUNCTION on_ticket_closed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM close_ticket(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('intake.TicketClosed', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;
