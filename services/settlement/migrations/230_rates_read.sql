-- The price list read by the console (GET /v1/settlement/rates, settlement.GetRates): the rows of
-- the rate tables in force on a business date (default today, Asia/Shanghai) — per key the row
-- with the latest effective_from on or before the date; fees withdrawn (active = false) are left
-- out. Every desk role may read the prices charged to customers; what the company pays or claims
-- (part costs, claim rates) is shown to finance and admin only.
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
            WHERE f.active), '[]')));
END $$;
