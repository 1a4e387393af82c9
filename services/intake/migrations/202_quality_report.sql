-- intake: quality feedback for the manufacturers (issue 19.6). Counted over completed repairs
-- (device_repairs: one row per repair completed, with its completion date `returned`), joined
-- to their tickets for brand, model, manufacturer, the confirmed fault code and the parts used.
-- A repeat repair is one whose device came back within 90 days of an earlier repair's return.
-- The previous period is as long as [from, to] and ends the day before `from`.

CREATE FUNCTION quality_rows(p_principal jsonb, p_from date, p_to date, p_manufacturer text,
                             p_brand text)
RETURNS TABLE (ticket_id text, returned date, brand text, model text, fault_code text,
               manufacturer text, parts jsonb, repeat boolean)
LANGUAGE sql STABLE AS $$
    SELECT t.id, d.returned, coalesce(t.device->>'brand', ''), coalesce(t.device->>'model', ''),
           coalesce(nullif(t.work->>'fault_code', ''), t.fault->>'code', ''),
           coalesce(t.manufacturer, ''), coalesce(t.work->'parts_used', '[]'),
           EXISTS (SELECT 1 FROM device_repairs p JOIN tickets pt ON pt.id = p.ticket_id
                   WHERE p.device_key = d.device_key AND pt.opened_at < t.opened_at
                     AND p.returned <= d.dropped_off AND d.dropped_off - p.returned <= 90)
    FROM device_repairs d JOIN tickets t ON t.id = d.ticket_id
    WHERE d.returned BETWEEN p_from AND p_to
      AND may_see(p_principal, t.center, t.region)
      AND (p_manufacturer IS NULL OR lower(t.manufacturer) = lower(p_manufacturer))
      AND (p_brand IS NULL OR lower(t.device->>'brand') = lower(p_brand))
$$;

-- One dimension: rows {key, count, previous, change_pct}, biggest first, at most p_top.
CREATE FUNCTION quality_dim(cur jsonb, prev jsonb, p_top int) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH c AS (SELECT key, sum(n)::int AS n FROM jsonb_to_recordset(cur) AS x(key text, n int) GROUP BY key),
         p AS (SELECT key, sum(n)::int AS n FROM jsonb_to_recordset(prev) AS x(key text, n int) GROUP BY key),
         j AS (SELECT coalesce(c.key, p.key) AS key, coalesce(c.n, 0) AS n, coalesce(p.n, 0) AS pn
               FROM c FULL JOIN p ON p.key = c.key)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', key, 'count', n, 'previous', pn,
               'change_pct', CASE WHEN pn > 0 THEN round(100.0 * (n - pn) / pn, 1) END))
               ORDER BY n DESC, key), '[]')
    FROM (SELECT * FROM j WHERE n > 0 OR pn > 0 ORDER BY n DESC, key LIMIT p_top) top
$$;

CREATE FUNCTION quality_report(p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_pto date;
    v_pfrom date;
    v_cur jsonb;
    v_prev jsonb;
    v_m text := nullif(a->>'manufacturer', '');
    v_b text := nullif(a->>'brand', '');
BEGIN
    IF v_from > v_to THEN
        PERFORM fail(400, 'validation', 'from: is after to');
    END IF;
    IF v_m IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(manufacturer) = lower(v_m)) THEN
        PERFORM fail(422, 'unknown_manufacturer', format('manufacturer: %s is not a known manufacturer', v_m));
    END IF;
    IF v_b IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(brand) = lower(v_b)) THEN
        PERFORM fail(422, 'unknown_brand', format('brand: %s is not a known brand', v_b));
    END IF;
    v_pto := v_from - 1;
    v_pfrom := v_pto - (v_to - v_from);
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_cur FROM quality_rows(p_principal, v_from, v_to, v_m, v_b) r;
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_prev FROM quality_rows(p_principal, v_pfrom, v_pto, v_m, v_b) r;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'from', v_from::text, 'to', v_to::text,
        'previous_from', v_pfrom::text, 'previous_to', v_pto::text,
        'manufacturer', v_m, 'brand', v_b,
        'repairs', jsonb_array_length(v_cur), 'previous_repairs', jsonb_array_length(v_prev),
        'repeats', (SELECT count(*) FROM jsonb_array_elements(v_cur) e WHERE (e->>'repeat')::boolean),
        'by_brand', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', e->>'brand', 'n', 1)), '[]') FROM jsonb_array_elements(v_cur) e),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', e->>'brand', 'n', 1)), '[]') FROM jsonb_array_elements(v_prev) e), 100),
        'by_model', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', (e->>'brand') || ' ' || (e->>'model'), 'n', 1)), '[]') FROM jsonb_array_elements(v_cur) e),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', (e->>'brand') || ' ' || (e->>'model'), 'n', 1)), '[]') FROM jsonb_array_elements(v_prev) e), 100),
        'by_fault_code', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', e->>'fault_code', 'n', 1)), '[]') FROM jsonb_array_elements(v_cur) e),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', e->>'fault_code', 'n', 1)), '[]') FROM jsonb_array_elements(v_prev) e), 100),
        'by_part', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', u->>'sku', 'n', coalesce((u->>'qty')::int, 1))), '[]')
               FROM jsonb_array_elements(v_cur) e, jsonb_array_elements(e->'parts') u),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', u->>'sku', 'n', coalesce((u->>'qty')::int, 1))), '[]')
               FROM jsonb_array_elements(v_prev) e, jsonb_array_elements(e->'parts') u), 100),
        'by_month', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', to_char((e->>'returned')::date, 'YYYY-MM'), 'n', 1)), '[]') FROM jsonb_array_elements(v_cur) e),
            '[]', 100),
        'repeat_hotspots', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', (e->>'brand') || ' ' || (e->>'model') || ' / ' || (e->>'fault_code'), 'n', 1)), '[]')
               FROM jsonb_array_elements(v_cur) e WHERE (e->>'repeat')::boolean),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', (e->>'brand') || ' ' || (e->>'model') || ' / ' || (e->>'fault_code'), 'n', 1)), '[]')
               FROM jsonb_array_elements(v_prev) e WHERE (e->>'repeat')::boolean), 20)));
END $$;

CREATE FUNCTION cmd_quality_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', quality_report(p_principal, a));
END $$;

-- The same report as one CSV table: dimension,key,count,previous,change_pct (a header line, then
-- the rows of every dimension; the period in the first rows as dimension "period").
CREATE FUNCTION csv_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- a cell a spreadsheet would run as a formula gets a leading quote; quotes are doubled
    SELECT CASE WHEN w ~ '[",\n\r]' THEN '"' || replace(w, '"', '""') || '"' ELSE w END
    FROM (SELECT CASE WHEN v ~ '^[=+@-]' THEN '''' || v ELSE coalesce(v, '') END AS w) x
$$;

CREATE FUNCTION cmd_quality_csv(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r jsonb := quality_report(p_principal, a);
    v_csv text;
BEGIN
    SELECT 'dimension,key,count,previous,change_pct' || E'\n'
           || format('period,%s..%s,%s,%s,', r->>'from', r->>'to', r->>'repairs', r->>'previous_repairs') || E'\n'
           || coalesce(string_agg(format('%s,%s,%s,%s,%s', d.dim, csv_field(e.v->>'key'), e.v->>'count',
                                         e.v->>'previous', coalesce(e.v->>'change_pct', '')), E'\n'
                                  ORDER BY d.ord, e.n), '') || E'\n'
        INTO v_csv
    FROM (VALUES (1, 'brand', 'by_brand'), (2, 'model', 'by_model'), (3, 'fault_code', 'by_fault_code'),
                 (4, 'part', 'by_part'), (5, 'month', 'by_month'), (6, 'repeat_hotspot', 'repeat_hotspots'))
             AS d(ord, dim, field),
         jsonb_array_elements(r->d.field) WITH ORDINALITY AS e(v, n);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('csv', v_csv));
END $$;
