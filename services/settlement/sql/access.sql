-- settlement: access functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

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

-- The price list read by the console (GET /v1/settlement/rates, settlement.GetRates): the rows of
-- the rate tables in force on a business date (default today, Asia/Shanghai) — per key the row
-- with the latest effective_from on or before the date; fees withdrawn (active = false) are left
-- out. Every desk role may read the prices charged to customers; what the company pays or claims
-- (part costs, claim rates, the claim handling surcharges) is shown to finance and admin only.
CREATE OR REPLACE FUNCTION read_rates(p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_date date := coalesce(nullif(a->>'date', '')::date, today_sh());
    v_fin boolean := is_finance(p_principal);
BEGIN
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'date', v_date,
        'currency', 'CNY',
        'vat_rate_bp', vat_rate(v_date),
        'labour', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'labour_code', r.labour_code, 'category', r.category,
                       'manufacturer', r.manufacturer, 'effective_from', r.effective_from,
                       'description', r.description, 'list_flat_cents', r.list_flat_cents,
                       'list_hour_cents', r.list_hour_cents,
                       'claim_flat_cents', CASE WHEN v_fin THEN r.claim_flat_cents END,
                       'claim_hour_cents', CASE WHEN v_fin THEN r.claim_hour_cents END))
                   ORDER BY r.labour_code, r.category, r.manufacturer)
            FROM (SELECT DISTINCT ON (labour_code, category, manufacturer) *
                  FROM labour_rates WHERE effective_from <= v_date
                  ORDER BY labour_code, category, manufacturer, effective_from DESC) r), '[]'),
        'parts', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'sku', p.sku, 'effective_from', p.effective_from,
                       'description', p.description, 'manufacturer', p.manufacturer,
                       'list_cents', p.list_cents,
                       'cost_cents', CASE WHEN v_fin THEN p.cost_cents END,
                       'return_required', p.return_required,
                       'warranty_covered', p.warranty_covered))
                   ORDER BY p.sku)
            FROM (SELECT DISTINCT ON (sku) * FROM parts_prices WHERE effective_from <= v_date
                  ORDER BY sku, effective_from DESC) p), '[]'),
        'fees', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'fee_code', f.fee_code, 'category', f.category,
                       'manufacturer', f.manufacturer, 'effective_from', f.effective_from,
                       'description', f.description, 'applies', f.applies,
                       'list_cents', f.list_cents,
                       'claim_cents', CASE WHEN v_fin THEN f.claim_cents END))
                   ORDER BY f.fee_code, f.category, f.manufacturer)
            FROM (SELECT DISTINCT ON (fee_code, category, manufacturer) *
                  FROM fee_rates WHERE effective_from <= v_date
                  ORDER BY fee_code, category, manufacturer, effective_from DESC) f
            WHERE f.active), '[]'),
        'handling', CASE WHEN v_fin THEN coalesce((
            SELECT jsonb_agg(jsonb_build_object('manufacturer', h.manufacturer,
                       'effective_from', h.effective_from, 'handling_bp', h.handling_bp)
                   ORDER BY h.manufacturer)
            FROM (SELECT DISTINCT ON (manufacturer) * FROM claim_handling WHERE effective_from <= v_date
                  ORDER BY manufacturer, effective_from DESC) h), '[]') END,
        'travel', coalesce((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'category', tr.category, 'effective_from', tr.effective_from,
                       'list_cents_per_km', tr.list_cents_per_km,
                       'claim_cents_per_km', CASE WHEN v_fin THEN tr.claim_cents_per_km END))
                   ORDER BY tr.category)
            FROM (SELECT DISTINCT ON (category) * FROM travel_rates WHERE effective_from <= v_date
                  ORDER BY category, effective_from DESC) tr), '[]')));
END $$;
