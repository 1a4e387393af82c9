-- parts: technicians' vans and the parts used on on-site service orders (issue 19.3,
-- docs/onsite.md "Van stock", decision 0034). One current definition per function, applied with
-- CREATE OR REPLACE after the numbered migrations on every start. Tables: migrations/450_vans.sql.

CREATE OR REPLACE FUNCTION van_json(s sites) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'code', s.code, 'name', s.name, 'center', s.center, 'region', s.region,
        'technician', s.technician, 'active', s.active))
$$;

-- POST /v1/parts/vans {code, name, center, technician, active}: a van of a centre (the centre's
-- desk for its own, the warehouse and admin for any), 201 new / 200 changed. One active van per
-- technician; a code already used by a centre or the warehouse is 409.
CREATE OR REPLACE FUNCTION cmd_save_van(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_code text := a->>'code';
    v_center text := a->>'center';
    v_tech text := a->>'technician';
    v_active boolean := coalesce((a->>'active')::boolean, true);
    c sites;
    s sites;
    v_new boolean;
BEGIN
    SELECT * INTO c FROM sites WHERE code = v_center AND kind = 'center';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_center', format('centre %s does not exist', v_center));
    END IF;
    IF NOT may_write(p_principal, v_center) THEN
        PERFORM fail(403, 'forbidden', format('you may not keep vans for centre %s', v_center));
    END IF;
    SELECT * INTO s FROM sites WHERE code = v_code FOR UPDATE;
    v_new := NOT FOUND;
    IF NOT v_new AND s.kind <> 'van' THEN
        PERFORM fail(409, 'site_exists', format('%s is a %s, not a van', v_code, s.kind));
    END IF;
    IF NOT v_new AND NOT may_write(p_principal, s.center) THEN
        PERFORM fail(403, 'forbidden', format('van %s belongs to centre %s', v_code, s.center));
    END IF;
    IF v_active AND EXISTS (SELECT 1 FROM sites x WHERE x.kind = 'van' AND x.active
                            AND x.technician = v_tech AND x.code <> v_code) THEN
        PERFORM fail(409, 'technician_has_van',
                     format('technician %s already has van %s', v_tech,
                            (SELECT x.code FROM sites x WHERE x.kind = 'van' AND x.active
                                                       AND x.technician = v_tech AND x.code <> v_code)));
    END IF;
    IF v_new THEN
        INSERT INTO sites(code, name, kind, region, center, technician, active)
            VALUES (v_code, coalesce(nullif(a->>'name', ''), v_code), 'van', c.region, v_center,
                    v_tech, v_active)
            RETURNING * INTO s;
    ELSE
        UPDATE sites SET name = coalesce(nullif(a->>'name', ''), name), region = c.region,
                         center = v_center, technician = v_tech, active = v_active
            WHERE code = v_code RETURNING * INTO s;
    END IF;
    PERFORM audit_write(p_principal, p_req, CASE WHEN v_new THEN 'create' ELSE 'update' END,
                        'van', v_code, van_json(s));
    RETURN jsonb_build_object('status', CASE WHEN v_new THEN 201 ELSE 200 END, 'body', van_json(s));
END $$;

-- GET /v1/parts/vans?center=&technician=: the vans the caller may see.
CREATE OR REPLACE FUNCTION cmd_list_vans(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'body', jsonb_build_object('vans',
        coalesce(jsonb_agg(van_json(s) ORDER BY s.code), '[]')))
    FROM sites s
    WHERE s.kind = 'van' AND may_read(p_principal, s.code)
      AND (coalesce(a->>'center', '') = '' OR s.center = a->>'center')
      AND (coalesce(a->>'technician', '') = '' OR s.technician = a->>'technician')
$$;

CREATE OR REPLACE FUNCTION order_issue_json(i order_issues) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'order_id', i.order_id, 'site', i.site, 'technician', i.technician, 'lines', i.lines,
        'value_cents', i.value_cents, 'issued_by', i.issued_by,
        'issued_at', to_char(i.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
$$;

-- The parts used on a service order, issued from its technician's van (the check-out asks for it
-- before intake records the work done). All lines or none: a van short of any of them is 409
-- insufficient_stock and nothing moves. Once per order: the same lines again answer the issue
-- already made (200), other lines are 409 parts_already_issued.
CREATE OR REPLACE FUNCTION cmd_issue_order_parts(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := a->>'order_id';
    o service_orders;
    i order_issues;
    van sites;
    l record;
    s stock;
    m movements;
    v_lines jsonb;
    v_short text;
    v_bad text;
    v_value bigint := 0;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object('sku', sku, 'qty', qty) ORDER BY sku), '[]')
        INTO v_lines
        FROM (SELECT x->>'sku' AS sku, sum((x->>'qty')::int)::int AS qty
              FROM jsonb_array_elements(coalesce(a->'parts_used', '[]')) x GROUP BY 1) g;
    SELECT * INTO o FROM service_orders WHERE order_id = v_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(409, 'order_not_known',
                     format('parts has not heard of service order %s yet; retry in a moment', v_id));
    END IF;
    SELECT * INTO i FROM order_issues WHERE order_id = v_id;
    IF FOUND THEN
        IF i.lines = v_lines THEN
            RETURN jsonb_build_object('status', 200, 'body', order_issue_json(i));
        END IF;
        PERFORM fail(409, 'parts_already_issued',
                     format('the parts of service order %s were already issued from %s: %s',
                            v_id, i.site, i.lines::text));
    END IF;
    IF coalesce((a->>'existing_only')::boolean, false) THEN
        PERFORM fail(409, 'not_issued', format('no parts were issued for service order %s', v_id));
    END IF;
    IF o.state = 'dispatched' THEN
        PERFORM fail(409, 'order_not_on_site',
                     format('service order %s is dispatched here; parts are used on site (a check-in '
                            'a moment ago may not have reached parts yet: retry)', v_id));
    ELSIF o.state <> 'on_site' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('service order %s is %s; parts are used on site', v_id, o.state));
    END IF;
    SELECT * INTO van FROM sites WHERE kind = 'van' AND active AND technician = o.technician;
    IF NOT FOUND THEN
        PERFORM fail(409, 'no_van', format('technician %s has no van stock (POST /v1/parts/vans)',
                                           coalesce(o.technician, '(none)')));
    END IF;
    IF NOT may_read(p_principal, van.code) THEN
        PERFORM fail(403, 'forbidden', format('you may not use the stock of van %s', van.code));
    END IF;
    SELECT string_agg(x->>'sku', ', ') INTO v_bad FROM jsonb_array_elements(v_lines) x
        WHERE NOT EXISTS (SELECT 1 FROM skus c WHERE c.sku = x->>'sku');
    IF v_bad IS NOT NULL THEN
        PERFORM fail(422, 'unknown_sku', format('not in the catalogue: %s', v_bad));
    END IF;
    -- judged under the van's balance locks, in SKU order (as everywhere)
    FOR l IN SELECT x->>'sku' AS sku, (x->>'qty')::int AS qty FROM jsonb_array_elements(v_lines) x
             ORDER BY 1 LOOP
        s := lock_stock(van.code, l.sku);
        IF s.on_hand - s.reserved < l.qty THEN
            v_short := concat_ws('; ', v_short,
                                 format('%s: %s available, %s used', l.sku, s.on_hand - s.reserved, l.qty));
        END IF;
    END LOOP;
    IF v_short IS NOT NULL THEN
        PERFORM fail(409, 'insufficient_stock', format('van %s does not hold the parts used (%s)',
                                                       van.code, v_short));
    END IF;
    FOR l IN SELECT x->>'sku' AS sku, (x->>'qty')::int AS qty FROM jsonb_array_elements(v_lines) x
             ORDER BY 1 LOOP
        m := mv(van.code, l.sku, 'issue', -l.qty, 0, 0,
                jsonb_build_object('ticket_id', v_id, 'actor', actor(p_principal),
                                   'request_id', p_req, 'note', 'service order ' || v_id));
        v_value := v_value + coalesce((SELECT mvv.value_cents FROM movement_values mvv
                                        WHERE mvv.movement_id = m.id), 0);
    END LOOP;
    INSERT INTO order_issues(order_id, site, technician, lines, value_cents, request_id, issued_by)
        VALUES (v_id, van.code, o.technician, v_lines, v_value, p_req, actor(p_principal))
        RETURNING * INTO i;
    PERFORM emit('parts', 'parts.PartsIssued', jsonb_build_object(
        'ticket_id', v_id, 'site', van.code, 'lines', v_lines));
    PERFORM audit_write(p_principal, p_req, 'issue', 'service_order', v_id,
                        jsonb_build_object('site', van.code, 'lines', v_lines,
                                           'value_cents', v_value));
    RETURN jsonb_build_object('status', 201, 'body', order_issue_json(i));
END $$;

-- intake.ServiceOrderChanged: remember the order's centre, technician and state (an upsert: a
-- replay changes nothing). Parts issues an order's parts only while its copy says on_site.
CREATE OR REPLACE FUNCTION on_service_order_changed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'order_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO service_orders(order_id, center, technician, state)
        VALUES (e->>'order_id', e->>'center', nullif(e->>'technician', ''), e->>'to_state')
        ON CONFLICT (order_id) DO UPDATE
            SET center = EXCLUDED.center,
                technician = coalesce(EXCLUDED.technician, service_orders.technician),
                state = EXCLUDED.state, updated_at = now();
END $$;
