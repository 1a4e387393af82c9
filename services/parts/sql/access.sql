-- parts: access functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION setting(p_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT s.value INTO v FROM settings s WHERE s.key = p_key;
    RETURN v;
END $$;

CREATE OR REPLACE FUNCTION apply_settings(p jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO settings(key, value) SELECT key, value FROM jsonb_each_text(p)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
$$;

-- Today's business date (Asia/Shanghai).
CREATE OR REPLACE FUNCTION business_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- A timestamp from event text, or NULL when it does not parse (an event must never get stuck).
CREATE OR REPLACE FUNCTION try_timestamptz(p text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN p::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Scope checks fail closed: may_read() and may_write() are true or false, never NULL. A centre
-- principal without a site (or a region principal without a region) acts on and reads nothing;
-- before, `NOT may_read(...)` was NULL for a centre without a site and the check let it read
-- every site's transfers and loaners by id.
-- A centre's desk acts for its own vans (sites of kind van owned by the centre) as for itself.
CREATE OR REPLACE FUNCTION own_van(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM sites v WHERE v.code = p_site AND v.kind = 'van'
                                         AND v.center = p->>'site')
$$;

CREATE OR REPLACE FUNCTION may_read(p jsonb, p_site text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p->>'role' = 'region' THEN
        RETURN coalesce(p->>'region' <> '', false)
           AND EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.region = p->>'region');
    END IF;
    RETURN coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND (p->>'site' = p_site OR own_van(p, p_site))
        ELSE false END, false);
END $$;

CREATE OR REPLACE FUNCTION may_write(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND (p->>'site' = p_site OR own_van(p, p_site))
        ELSE false END, false)
$$;

-- Reference data is checked, and the refusal points to the allowed values: an unknown site lists
-- the sites the caller may use, an unknown SKU points to the catalogue route.
CREATE OR REPLACE FUNCTION require_site(p jsonb, p_site text, p_write boolean) RETURNS sites
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s sites;
BEGIN
    SELECT * INTO s FROM sites WHERE code = p_site;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_site',
                     format('site %s does not exist (your sites: %s)', p_site,
                            coalesce((SELECT string_agg(x.code, ', ' ORDER BY x.code) FROM sites x
                                       WHERE CASE WHEN p_write THEN may_write(p, x.code)
                                                  ELSE may_read(p, x.code) END), 'none')));
    END IF;
    IF p_write AND NOT may_write(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not change stock at site %s', p_site));
    ELSIF NOT p_write AND NOT may_read(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not see site %s', p_site));
    END IF;
    RETURN s;
END $$;

-- A centre named by an event but unknown here (intake owns the centres): remember it.
CREATE OR REPLACE FUNCTION ensure_site(p_code text, p_region text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sites(code, name, kind, region) VALUES (p_code, p_code, 'center', p_region)
    ON CONFLICT DO NOTHING;
END $$;

-- Serve waiting demand for every "site|sku" in p_touched (sorted, each once).
CREATE OR REPLACE FUNCTION serve_touched(p_touched text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    FOR k IN SELECT DISTINCT x FROM unnest(p_touched) x ORDER BY 1 LOOP
        PERFORM stock_increased(split_part(k, '|', 1), split_part(k, '|', 2));
    END LOOP;
END $$;

-- Problems of receipt rows [{row, site, sku, qty, note}] that need the database: unknown
-- sites and SKUs, sites out of the caller's scope. Used by the service before it applies a
-- file (to name every bad row) and by cmd_receive_stock itself.
CREATE OR REPLACE FUNCTION receipt_problems(p jsonb, p_rows jsonb)
RETURNS TABLE (row_no int, field text, problem text)
LANGUAGE sql STABLE AS $$
    SELECT (x->>'row')::int, 'site', format('site %s does not exist', x->>'site')
        FROM jsonb_array_elements(p_rows) x
        WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.code = x->>'site')
    UNION ALL
    SELECT (x->>'row')::int, 'scope', format('you may not receive stock at site %s', x->>'site')
        FROM jsonb_array_elements(p_rows) x
        WHERE EXISTS (SELECT 1 FROM sites s WHERE s.code = x->>'site')
          AND NOT may_write(p, x->>'site')
    UNION ALL
    SELECT (x->>'row')::int, 'sku', format('SKU %s is not in the catalogue', x->>'sku')
        FROM jsonb_array_elements(p_rows) x
        WHERE NOT EXISTS (SELECT 1 FROM skus c WHERE c.sku = x->>'sku')
    UNION ALL
    SELECT (x->>'row')::int, 'sku', format('SKU %s is no longer active', x->>'sku')
        FROM jsonb_array_elements(p_rows) x
        WHERE EXISTS (SELECT 1 FROM skus c WHERE c.sku = x->>'sku' AND NOT c.active)
$$;

-- May the caller act for site p_site itself (its own site, or an admin)? The warehouse role
-- acts for the warehouse site only.
CREATE OR REPLACE FUNCTION acts_for(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' = p_site OR own_van(p, p_site)
        WHEN 'warehouse' THEN EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.kind = 'warehouse')
        ELSE false END
$$;
