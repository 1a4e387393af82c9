-- parts: the command functions behind the warehouse and centre API. Each is
-- cmd_<verb>(request_id, principal, args) -> {"status", "body"}, run once per request id by
-- exec_command(); arguments were validated field by field in C (services/parts/main.c), so
-- these check what needs the database: existence, the caller's scope, stock and state.
--
-- Queries answer with "nostore": their replies are not kept as command results (003_reads.sql).
--
-- Scope: admin and warehouse act on every site; a centre acts on its own site only; a region
-- reads the sites of its region. Naming another site explicitly (site=, from/to) is 403;
-- an object of another site looked up by id (transfer, return, loaner) is 404, like a missing one.

-- ---- catalogue ----

CREATE FUNCTION cmd_list_skus(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('skus',
        coalesce((SELECT jsonb_agg(sku_json(c) ORDER BY c.sku) FROM skus c
                  WHERE (a->>'brand' IS NULL OR lower(c.brand) = lower(a->>'brand'))
                    AND (a->>'model' IS NULL OR a->>'model' = ANY (c.compatible_models))
                    AND (a->>'q' IS NULL OR c.sku ILIKE '%' || (a->>'q') || '%'
                         OR c.name ILIKE '%' || (a->>'q') || '%')), '[]')))
$$;

CREATE FUNCTION cmd_put_sku(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c skus;
    v_new boolean;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse maintains the catalogue');
    END IF;
    v_new := NOT EXISTS (SELECT 1 FROM skus WHERE sku = a->>'sku');
    INSERT INTO skus(sku, name, brand, manufacturer, category, compatible_models, unit_cost_cents,
                     list_price_cents, currency, defective_return_required, active)
    VALUES (a->>'sku', a->>'name', a->>'brand', a->>'manufacturer',
            coalesce(a->>'category', 'part'),
            coalesce(ARRAY(SELECT jsonb_array_elements_text(a->'compatible_models')), '{}'),
            (a->>'unit_cost_cents')::bigint, (a->>'list_price_cents')::bigint,
            coalesce(a->>'currency', 'CNY'),
            coalesce((a->>'defective_return_required')::boolean, false),
            coalesce((a->>'active')::boolean, true))
    ON CONFLICT (sku) DO UPDATE SET
        name = EXCLUDED.name, brand = EXCLUDED.brand, manufacturer = EXCLUDED.manufacturer,
        category = EXCLUDED.category, compatible_models = EXCLUDED.compatible_models,
        unit_cost_cents = EXCLUDED.unit_cost_cents, list_price_cents = EXCLUDED.list_price_cents,
        currency = EXCLUDED.currency,
        defective_return_required = EXCLUDED.defective_return_required,
        active = EXCLUDED.active, updated_at = now()
    RETURNING * INTO c;
    PERFORM audit_write(p_principal, p_req, CASE WHEN v_new THEN 'create' ELSE 'update' END,
                        'sku', c.sku, sku_json(c));
    RETURN jsonb_build_object('status', CASE WHEN v_new THEN 201 ELSE 200 END, 'body', sku_json(c));
END $$;

-- ---- stock and the ledger ----

CREATE FUNCTION cmd_get_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_items jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(stock_item_json(x.v) ORDER BY (x.v).site, (x.v).sku), '[]') INTO v_items
    FROM (SELECT v FROM stock_view v
          WHERE may_read(p_principal, v.site)
            AND (v_site IS NULL OR v.site = v_site)
            AND (a->>'sku' IS NULL OR v.sku = a->>'sku')
          ORDER BY v.site, v.sku LIMIT 5000) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('items', v_items));
END $$;

CREATE FUNCTION cmd_list_movements(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 1000);
    v_rows jsonb;
    v_n int;
    v_last bigint;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(movement_json(x.m) ORDER BY (x.m).id), '[]'), count(*), max((x.m).id)
        INTO v_rows, v_n, v_last
    FROM (SELECT m FROM movements m
          WHERE (v_site IS NULL OR m.site = v_site)
            AND may_read(p_principal, m.site)
            AND (a->>'sku' IS NULL OR m.sku = a->>'sku')
            AND (a->>'kind' IS NULL OR m.kind = a->>'kind')
            AND (a->>'ticket_id' IS NULL OR m.ticket_id = a->>'ticket_id')
            AND m.id > coalesce((a->>'after')::bigint, 0)
          ORDER BY m.id LIMIT v_limit) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_strip_nulls(jsonb_build_object(
        'movements', v_rows, 'next', CASE WHEN v_n = v_limit THEN v_last END)));
END $$;

-- Problems of receipt rows [{row, site, sku, qty, note}] that need the database: unknown
-- sites and SKUs, sites out of the caller's scope. Used by the service before it applies a
-- file (to name every bad row) and by cmd_receive_stock itself.
CREATE FUNCTION receipt_problems(p jsonb, p_rows jsonb)
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

-- A goods receipt: every row a `receipt` movement, all or nothing, then waiting demand served.
CREATE FUNCTION cmd_receive_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_rows jsonb := coalesce(a->'rows', '[]');
    v_err text;
    v_row jsonb;
    k record;
    m movements;
    v_first bigint;
    v_last bigint;
    v_units int := 0;
    v_out jsonb := '[]';
    v_n int := jsonb_array_length(coalesce(a->'rows', '[]'));
BEGIN
    IF v_n = 0 THEN
        PERFORM fail(400, 'empty_receipt', 'the receipt has no rows');
    END IF;
    SELECT string_agg(format('row %s: %s', q.row_no, q.problem), '; ' ORDER BY q.row_no)
        INTO v_err FROM receipt_problems(p_principal, v_rows) q;
    IF v_err IS NOT NULL THEN
        PERFORM fail(422, 'invalid_rows', 'nothing was applied: ' || v_err);
    END IF;
    -- Lock the balance rows in one order first (no deadlock with other writers), then post the
    -- movements in the order of the file.
    FOR k IN SELECT DISTINCT x->>'site' AS site, x->>'sku' AS sku
             FROM jsonb_array_elements(v_rows) x ORDER BY 1, 2 LOOP
        PERFORM lock_stock(k.site, k.sku);
    END LOOP;
    FOR v_row IN SELECT y FROM jsonb_array_elements(v_rows) y ORDER BY (y->>'row')::int LOOP
        m := mv(v_row->>'site', v_row->>'sku', 'receipt', (v_row->>'qty')::int, 0, 0,
                jsonb_build_object('note', v_row->>'note', 'actor', actor(p_principal),
                                   'request_id', p_req));
        v_first := coalesce(v_first, m.id);
        v_last := m.id;
        v_units := v_units + m.qty;
        IF v_n <= 100 THEN
            v_out := v_out || movement_json(m);
        END IF;
    END LOOP;
    FOR k IN SELECT DISTINCT x->>'site' AS site, x->>'sku' AS sku
             FROM jsonb_array_elements(v_rows) x ORDER BY 1, 2 LOOP
        PERFORM stock_increased(k.site, k.sku);
    END LOOP;
    PERFORM audit_write(p_principal, p_req, 'receive', 'receipt', v_first::text,
                        jsonb_build_object('rows', v_n, 'units', v_units,
                                           'movements', jsonb_build_array(v_first, v_last),
                                           'source', a->>'source'));
    RETURN jsonb_build_object('status', 201, 'body', jsonb_build_object(
        'rows', v_n, 'units', v_units, 'first_movement_id', v_first,
        'last_movement_id', v_last, 'movements', v_out));
END $$;

CREATE FUNCTION cmd_adjust_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_sku text := a->>'sku';
    v_delta int := (a->>'delta')::int;
    s stock;
    m movements;
BEGIN
    PERFORM require_site(p_principal, v_site, true);
    PERFORM require_sku(v_sku);
    s := lock_stock(v_site, v_sku);
    IF v_delta < 0 AND s.available < -v_delta THEN
        PERFORM fail(409, 'insufficient_stock',
                     format('only %s x %s available at %s (%s reserved): cannot remove %s',
                            s.available, v_sku, v_site, s.reserved, -v_delta));
    END IF;
    m := mv(v_site, v_sku, 'adjustment', v_delta, 0, 0,
            jsonb_build_object('reason', a->>'reason', 'note', a->>'note',
                               'actor', actor(p_principal), 'request_id', p_req));
    IF v_delta > 0 THEN
        PERFORM stock_increased(v_site, v_sku);
    END IF;
    PERFORM audit_write(p_principal, p_req, 'adjust', 'stock', v_site || '/' || v_sku,
                        jsonb_build_object('delta', v_delta, 'reason', a->>'reason',
                                           'movement', m.id));
    RETURN jsonb_build_object('status', 201, 'body', movement_json(m));
END $$;

CREATE FUNCTION cmd_scrap_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_sku text := a->>'sku';
    v_qty int := (a->>'qty')::int;
    v_defective boolean := coalesce((a->>'defective')::boolean, true);
    s stock;
    m movements;
BEGIN
    PERFORM require_site(p_principal, v_site, true);
    PERFORM require_sku(v_sku);
    s := lock_stock(v_site, v_sku);
    IF v_defective AND s.defective < v_qty THEN
        PERFORM fail(409, 'insufficient_stock',
                     format('only %s defective x %s held at %s', s.defective, v_sku, v_site));
    ELSIF NOT v_defective AND s.available < v_qty THEN
        PERFORM fail(409, 'insufficient_stock',
                     format('only %s x %s available at %s', s.available, v_sku, v_site));
    END IF;
    m := mv(v_site, v_sku, 'scrap', CASE WHEN v_defective THEN 0 ELSE -v_qty END, 0,
            CASE WHEN v_defective THEN -v_qty ELSE 0 END,
            jsonb_build_object('reason', a->>'reason', 'actor', actor(p_principal),
                               'request_id', p_req));
    PERFORM audit_write(p_principal, p_req, 'scrap', 'stock', v_site || '/' || v_sku,
                        jsonb_build_object('qty', v_qty, 'defective', v_defective,
                                           'reason', a->>'reason', 'movement', m.id));
    RETURN jsonb_build_object('status', 201, 'body', movement_json(m));
END $$;

CREATE FUNCTION cmd_set_safety_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_sku text := a->>'sku';
    v_safety int := (a->>'safety_level')::int;
    p stock_policy;
    s stock;
    v stock_view;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse sets safety stock');
    END IF;
    PERFORM require_site(p_principal, v_site, true);
    PERFORM require_sku(v_sku);
    s := lock_stock(v_site, v_sku);
    INSERT INTO stock_policy(site, sku, safety_level, reorder_point, lead_time_days)
    VALUES (v_site, v_sku, v_safety, coalesce((a->>'reorder_point')::int, v_safety),
            coalesce((a->>'lead_time_days')::int, setting('default_lead_time_days')::int))
    ON CONFLICT (site, sku) DO UPDATE SET
        safety_level = EXCLUDED.safety_level,
        reorder_point = coalesce((a->>'reorder_point')::int,
                                 greatest(stock_policy.reorder_point, EXCLUDED.safety_level)),
        lead_time_days = coalesce((a->>'lead_time_days')::int, stock_policy.lead_time_days),
        updated_at = now()
    RETURNING * INTO p;
    -- A new level may itself be a crossing (or end one).
    PERFORM safety_watch(s);
    PERFORM audit_write(p_principal, p_req, 'set_safety', 'stock', v_site || '/' || v_sku,
                        jsonb_build_object('safety_level', p.safety_level,
                                           'reorder_point', p.reorder_point,
                                           'lead_time_days', p.lead_time_days));
    SELECT * INTO v FROM stock_view WHERE site = v_site AND sku = v_sku;
    RETURN jsonb_build_object('status', 200, 'body', stock_item_json(v));
END $$;

-- ---- transfers ----

CREATE FUNCTION cmd_create_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_from text := a->>'from';
    v_to text := a->>'to';
    v_bad text;
    t transfers;
BEGIN
    PERFORM require_site(svc_principal(), v_from, false);
    PERFORM require_site(svc_principal(), v_to, false);
    IF NOT (may_write(p_principal, v_from) OR may_write(p_principal, v_to)) THEN
        PERFORM fail(403, 'forbidden',
                     format('you may not move stock between %s and %s', v_from, v_to));
    END IF;
    SELECT string_agg(l->>'sku', ', ') INTO v_bad FROM jsonb_array_elements(a->'lines') l
        WHERE NOT EXISTS (SELECT 1 FROM skus c WHERE c.sku = l->>'sku');
    IF v_bad IS NOT NULL THEN
        PERFORM fail(422, 'unknown_sku', format('not in the catalogue: %s', v_bad));
    END IF;
    INSERT INTO transfers(from_site, to_site, state, origin, note, created_by)
        VALUES (v_from, v_to, 'waiting', 'manual', a->>'note', actor(p_principal))
        RETURNING * INTO t;
    INSERT INTO transfer_lines(transfer_id, line_no, sku, qty)
        SELECT t.id, n, l->>'sku', (l->>'qty')::int
        FROM jsonb_array_elements(a->'lines') WITH ORDINALITY AS x(l, n);
    PERFORM audit_write(p_principal, p_req, 'request', 'transfer', t.id,
                        jsonb_build_object('from', v_from, 'to', v_to, 'lines', a->'lines'));
    PERFORM try_allocate(t.id);
    SELECT * INTO t FROM transfers WHERE id = t.id;
    RETURN jsonb_build_object('status', 201, 'body', transfer_json(t));
END $$;

-- The transfer for a command, locked: 404 when missing or neither end is in the caller's scope.
CREATE FUNCTION transfer_for_update(p_principal jsonb, p_id text) RETURNS transfers
LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT (may_read(p_principal, t.from_site) OR may_read(p_principal, t.to_site)) THEN
        PERFORM fail(404, 'not_found', format('transfer %s not found', p_id));
    END IF;
    RETURN t;
END $$;

CREATE FUNCTION transfer_event(t transfers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('transfer_id', t.id, 'from', t.from_site, 'to', t.to_site,
                              'ticket_id', t.ticket_id,
                              'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                            'line_no', l.line_no, 'sku', l.sku, 'qty', l.qty)
                                            ORDER BY l.line_no), '[]')
                                        FROM transfer_lines l WHERE l.transfer_id = t.id))
$$;

CREATE FUNCTION cmd_ship_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
    l transfer_lines;
BEGIN
    IF NOT may_write(p_principal, t.from_site) THEN
        PERFORM fail(403, 'forbidden', format('only site %s ships transfer %s', t.from_site, t.id));
    END IF;
    IF t.state = 'waiting' AND NOT try_allocate(t.id) THEN
        PERFORM fail(409, 'insufficient_stock',
                     format('%s lacks the stock for transfer %s (or older transfers wait for it)',
                            t.from_site, t.id));
    END IF;
    SELECT * INTO t FROM transfers WHERE id = t.id;
    IF t.state <> 'allocated' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; shipping needs it to be allocated or waiting', t.id, t.state));
    END IF;
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = t.id ORDER BY sku LOOP
        PERFORM lock_stock(t.from_site, l.sku);
        PERFORM mv(t.from_site, l.sku, 'transfer_out', -l.qty, -l.qty, 0,
                   jsonb_build_object('transfer_id', t.id, 'ticket_id', t.ticket_id,
                                      'line_no', t.line_no, 'note', a->>'note',
                                      'actor', actor(p_principal), 'request_id', p_req));
    END LOOP;
    UPDATE transfers SET state = 'shipped', shipped_at = now() WHERE id = t.id AND state = 'allocated'
        RETURNING * INTO t;
    PERFORM emit('parts', 'parts.TransferShipped', transfer_event(t), p_req);
    PERFORM audit_write(p_principal, p_req, 'ship', 'transfer', t.id, '{}');
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;

CREATE FUNCTION cmd_receive_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
    l transfer_lines;
BEGIN
    IF NOT may_write(p_principal, t.to_site) THEN
        PERFORM fail(403, 'forbidden', format('only site %s receives transfer %s', t.to_site, t.id));
    END IF;
    IF t.state <> 'shipped' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; receiving needs it to be shipped', t.id, t.state));
    END IF;
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = t.id ORDER BY sku LOOP
        PERFORM lock_stock(t.to_site, l.sku);
        PERFORM mv(t.to_site, l.sku, 'transfer_in', l.qty, 0, 0,
                   jsonb_build_object('transfer_id', t.id, 'ticket_id', t.ticket_id,
                                      'line_no', t.line_no, 'note', a->>'note',
                                      'actor', actor(p_principal), 'request_id', p_req));
    END LOOP;
    UPDATE transfers SET state = 'received', received_at = now() WHERE id = t.id AND state = 'shipped'
        RETURNING * INTO t;
    PERFORM emit('parts', 'parts.TransferReceived', transfer_event(t), p_req);
    PERFORM audit_write(p_principal, p_req, 'receive', 'transfer', t.id, '{}');
    -- The stock that arrived serves the site's backorders in request order.
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = t.id ORDER BY sku LOOP
        PERFORM stock_increased(t.to_site, l.sku);
    END LOOP;
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;

CREATE FUNCTION cmd_cancel_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
    v_sku text;
BEGIN
    IF NOT (may_write(p_principal, t.from_site) OR may_write(p_principal, t.to_site)) THEN
        PERFORM fail(403, 'forbidden', format('you may not cancel transfer %s', t.id));
    END IF;
    IF t.state NOT IN ('waiting', 'allocated') THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; only a waiting or allocated transfer can be cancelled',
                            t.id, t.state));
    END IF;
    FOREACH v_sku IN ARRAY cancel_transfer(t.id, actor(p_principal), coalesce(a->>'reason', 'cancelled')) LOOP
        PERFORM allocate_waiting(t.from_site, v_sku);
    END LOOP;
    SELECT * INTO t FROM transfers WHERE id = t.id;
    PERFORM audit_write(p_principal, p_req, 'cancel', 'transfer', t.id,
                        jsonb_build_object('reason', a->>'reason'));
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;

CREATE FUNCTION cmd_get_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = a->>'id';
    IF NOT FOUND OR NOT (may_read(p_principal, t.from_site) OR may_read(p_principal, t.to_site)) THEN
        PERFORM fail(404, 'not_found', format('transfer %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', transfer_json(t));
END $$;

CREATE FUNCTION cmd_list_transfers(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 500);
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(transfer_json(x.t) ORDER BY (x.t).fifo DESC), '[]') INTO v_rows
    FROM (SELECT t FROM transfers t
          WHERE (may_read(p_principal, t.from_site) OR may_read(p_principal, t.to_site))
            AND (v_site IS NULL OR v_site IN (t.from_site, t.to_site))
            AND (a->>'state' IS NULL OR t.state = a->>'state')
            AND (a->>'ticket_id' IS NULL OR t.ticket_id = a->>'ticket_id')
          ORDER BY t.fifo DESC LIMIT v_limit) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('transfers', v_rows));
END $$;

-- ---- reservations ----

CREATE FUNCTION cmd_list_reservations(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 500);
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(reservation_json(x.r) ORDER BY (x.r).ticket_id, (x.r).line_no), '[]') INTO v_rows
    FROM (SELECT r FROM reservations r
          WHERE may_read(p_principal, r.site)
            AND (v_site IS NULL OR r.site = v_site)
            AND (a->>'ticket_id' IS NULL OR r.ticket_id = a->>'ticket_id')
            AND (a->>'state' IS NULL OR r.state = a->>'state')
          ORDER BY r.fifo DESC LIMIT v_limit) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('reservations', v_rows));
END $$;

-- ---- replenishment ----
--
-- For each site x SKU with a safety policy or unserved demand, over the last W days
-- (replenishment_window_days, default 30):
--   consumed          = units issued to repairs + units shipped out on transfers
--   lead_time_demand  = ceil(consumed x lead_time_days / W)
--   target            = max(reorder_point, safety_level + lead_time_demand)
--   position          = available + inbound - backordered
--                       (inbound: transfers to the site not yet received; backordered: ticket
--                        lines waiting at the site and transfers waiting to leave it)
--   suggested_qty     = max(0, target - position)
-- A row is listed when position < target, or available is below the safety level.

CREATE FUNCTION cmd_get_replenishment(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_window int := setting('replenishment_window_days')::int;
    v_items jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    WITH cons AS (
        SELECT m.site, m.sku, sum(-m.d_on_hand)::int AS consumed FROM movements m
        WHERE m.kind IN ('issue', 'transfer_out') AND m.at >= now() - make_interval(days => v_window)
        GROUP BY 1, 2),
    base AS (
        SELECT v.*, coalesce(c.consumed, 0) AS consumed,
               coalesce(v.safety_level, 0) AS safety, coalesce(v.reorder_point, 0) AS rop,
               coalesce(v.lead_time_days, setting('default_lead_time_days')::int) AS lead,
               v.backordered + v.waiting_out AS owed
        FROM stock_view v LEFT JOIN cons c ON c.site = v.site AND c.sku = v.sku
        WHERE may_read(p_principal, v.site)
          AND (v_site IS NULL OR v.site = v_site)
          AND (a->>'sku' IS NULL OR v.sku = a->>'sku')
          AND (v.safety_level IS NOT NULL OR v.backordered + v.waiting_out > 0)),
    calc AS (
        SELECT b.*, (b.consumed * b.lead + v_window - 1) / v_window AS lead_demand
        FROM base b),
    fin AS (
        SELECT c.*, greatest(c.rop, c.safety + c.lead_demand) AS target,
               c.available + c.inbound - c.owed AS position
        FROM calc c)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'site', f.site, 'sku', f.sku, 'name', f.name, 'available', f.available,
               'inbound', f.inbound, 'backordered', f.owed, 'safety_level', f.safety,
               'reorder_point', f.rop, 'lead_time_days', f.lead, 'consumed', f.consumed,
               'lead_time_demand', f.lead_demand, 'target', f.target,
               'suggested_qty', greatest(0, f.target - f.position),
               'below_safety', f.available < f.safety,
               'unit_cost_cents', f.unit_cost_cents, 'currency', f.currency))
           ORDER BY f.site, f.sku), '[]') INTO v_items
    FROM fin f
    WHERE f.position < f.target OR f.available < f.safety;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'items', v_items, 'window_days', v_window,
        'formula', format('suggested = max(0, max(reorder_point, safety_level + ceil(consumed_%sd x lead_time_days / %s)) - (available + inbound - backordered))',
                          v_window, v_window)));
END $$;

-- ---- defective returns ----

CREATE FUNCTION return_visible(p jsonb, d defective_returns) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p->>'role' IN ('finance', 'reviewer') OR may_read(p, d.site)
$$;

CREATE FUNCTION cmd_list_returns(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 500);
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL AND p_principal->>'role' NOT IN ('finance', 'reviewer') THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(return_json(x.d) ORDER BY (x.d).due_date, (x.d).id), '[]') INTO v_rows
    FROM (SELECT d FROM defective_returns d
          WHERE return_visible(p_principal, d)
            AND (v_site IS NULL OR d.site = v_site)
            AND (a->>'ticket_id' IS NULL OR d.ticket_id = a->>'ticket_id')
            AND (a->>'status' IS NULL OR return_status(d) = a->>'status')
          ORDER BY d.due_date, d.id LIMIT v_limit) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('returns', v_rows));
END $$;

-- The warehouse receives a defective part: a defective_return movement at the warehouse, the
-- return marked returned, and DefectiveReturnRecorded for settlement's claim.
CREATE FUNCTION cmd_receive_return(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d defective_returns;
    v_wh text := setting('warehouse');
BEGIN
    SELECT * INTO d FROM defective_returns WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND OR NOT return_visible(p_principal, d) THEN
        PERFORM fail(404, 'not_found', format('defective return %s not found', a->>'id'));
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse receives defective returns');
    END IF;
    IF d.status <> 'owed' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('defective return %s is %s already', d.id, d.status));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sites WHERE code = v_wh) THEN
        PERFORM fail(409, 'no_warehouse', format('the warehouse site %s is not set up', v_wh));
    END IF;
    PERFORM lock_stock(v_wh, d.sku);
    PERFORM mv(v_wh, d.sku, 'defective_return', 0, 0, d.qty,
               jsonb_build_object('return_id', d.id, 'ticket_id', d.ticket_id,
                                  'line_no', d.line_no, 'note', a->>'note',
                                  'actor', actor(p_principal), 'request_id', p_req));
    UPDATE defective_returns SET status = 'returned', returned_at = now(),
                                 received_by = actor(p_principal), received_site = v_wh,
                                 note = coalesce(a->>'note', note)
        WHERE id = d.id AND status = 'owed'
        RETURNING * INTO d;
    PERFORM emit('parts', 'parts.DefectiveReturnRecorded', jsonb_build_object(
        'ticket_id', d.ticket_id, 'sku', d.sku, 'qty', d.qty, 'site', d.site,
        'returned_at', ts(d.returned_at), 'manufacturer', d.manufacturer, 'line_no', d.line_no,
        'return_id', d.id, 'received_site', d.received_site), p_req);
    PERFORM audit_write(p_principal, p_req, 'receive', 'defective_return', d.id,
                        jsonb_build_object('late', d.due_date < business_today()));
    RETURN jsonb_build_object('status', 200, 'body', return_json(d));
END $$;

-- ---- loaners ----

CREATE FUNCTION loaner_for_update(p_principal jsonb, p_serial text) RETURNS loaners
LANGUAGE plpgsql AS $$
DECLARE
    u loaners;
BEGIN
    SELECT * INTO u FROM loaners WHERE serial = p_serial FOR UPDATE;
    IF NOT FOUND OR NOT may_read(p_principal, u.site) THEN
        PERFORM fail(404, 'not_found', format('loaner %s not found', p_serial));
    END IF;
    IF NOT may_write(p_principal, u.site) THEN
        PERFORM fail(403, 'forbidden', format('you may not lend or take back units of %s', u.site));
    END IF;
    RETURN u;
END $$;

CREATE FUNCTION cmd_lend_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners := loaner_for_update(p_principal, a->>'serial');
    v_held text;
BEGIN
    IF u.state <> 'available' THEN
        PERFORM fail(409, 'illegal_transition', format('loaner %s is %s%s', u.serial, u.state,
            coalesce(' (ticket ' || (SELECT ticket_id FROM loans WHERE serial = u.serial
                                      AND returned_at IS NULL) || ')', '')));
    END IF;
    SELECT serial INTO v_held FROM loans WHERE ticket_id = a->>'ticket_id' AND returned_at IS NULL;
    IF FOUND THEN
        PERFORM fail(409, 'ticket_has_loaner',
                     format('ticket %s already holds loaner %s', a->>'ticket_id', v_held));
    END IF;
    INSERT INTO loans(serial, ticket_id, customer, phone, lent_by, note)
        VALUES (u.serial, a->>'ticket_id', a->>'customer', a->>'phone', actor(p_principal), a->>'note');
    UPDATE loaners SET state = 'lent', updated_at = now() WHERE serial = u.serial AND state = 'available'
        RETURNING * INTO u;
    PERFORM audit_write(p_principal, p_req, 'lend', 'loaner', u.serial,
                        jsonb_build_object('ticket_id', a->>'ticket_id'));
    RETURN jsonb_build_object('status', 200, 'body', loaner_json(u));
END $$;

CREATE FUNCTION cmd_return_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners := loaner_for_update(p_principal, a->>'serial');
    v_ticket text;
BEGIN
    IF u.state <> 'lent' THEN
        PERFORM fail(409, 'illegal_transition', format('loaner %s is %s, not lent', u.serial, u.state));
    END IF;
    UPDATE loans SET returned_at = now(), returned_by = actor(p_principal),
                     note = concat_ws(' / ', note, a->>'note')
        WHERE serial = u.serial AND returned_at IS NULL
        RETURNING ticket_id INTO v_ticket;
    UPDATE loaners SET state = 'available', updated_at = now() WHERE serial = u.serial AND state = 'lent'
        RETURNING * INTO u;
    PERFORM audit_write(p_principal, p_req, 'take_back', 'loaner', u.serial,
                        jsonb_build_object('ticket_id', v_ticket));
    RETURN jsonb_build_object('status', 200, 'body', loaner_json(u));
END $$;

CREATE FUNCTION cmd_list_loaners(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(loaner_json(u) ORDER BY u.site, u.serial), '[]') INTO v_rows
    FROM loaners u
    WHERE may_read(p_principal, u.site)
      AND (v_site IS NULL OR u.site = v_site)
      AND (a->>'state' IS NULL OR u.state = a->>'state');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('loaners', v_rows));
END $$;

-- ---- the ledger proof, on demand ----

CREATE FUNCTION cmd_check_ledger(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_rows jsonb;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse and admins check the ledger');
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object('site', x.site, 'sku', x.sku, 'problem', x.problem,
                                                 'balance', x.balance, 'expected', x.expected)), '[]')
        INTO v_rows
    FROM (SELECT * FROM ledger_mismatches() m
          WHERE a->>'site' IS NULL OR m.site = a->>'site' LIMIT 100) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'ok', jsonb_array_length(v_rows) = 0,
        'movements', (SELECT count(*) FROM movements),
        'balances', (SELECT count(*) FROM stock),
        'mismatches', v_rows));
END $$;

CREATE FUNCTION cmd_register_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse registers loaner units');
    END IF;
    PERFORM require_site(p_principal, a->>'site', true);
    IF a->>'sku' IS NOT NULL THEN
        PERFORM require_sku(a->>'sku');
    END IF;
    INSERT INTO loaners(serial, site, sku, model)
        VALUES (a->>'serial', a->>'site', a->>'sku', a->>'model')
        ON CONFLICT (serial) DO NOTHING
        RETURNING * INTO u;
    IF NOT FOUND THEN
        PERFORM fail(409, 'exists', format('loaner %s is registered already', a->>'serial'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'register', 'loaner', u.serial,
                        jsonb_build_object('site', u.site, 'model', u.model));
    RETURN jsonb_build_object('status', 201, 'body', loaner_json(u));
END $$;

-- Gauges for the gateway's /metrics: rows (name, labels, value, help).
CREATE FUNCTION parts_metrics()
RETURNS TABLE (name text, labels text, value float8, help text)
LANGUAGE sql STABLE AS $$
    SELECT 'aftersales_parts_lines', format('state="%s"', r.state), count(*)::float8,
           'ticket part lines by state'
        FROM reservations r GROUP BY r.state
    UNION ALL
    SELECT 'aftersales_parts_transfers', format('state="%s"', t.state), count(*)::float8,
           'transfers by state'
        FROM transfers t GROUP BY t.state
    UNION ALL
    SELECT 'aftersales_parts_returns', format('status="%s"', return_status(d)), count(*)::float8,
           'defective returns by status'
        FROM defective_returns d GROUP BY return_status(d)
    UNION ALL
    SELECT 'aftersales_parts_below_safety', '', count(*) FILTER (WHERE p.below)::float8,
           'site x SKU pairs below their safety level'
        FROM stock_policy p
    UNION ALL
    SELECT 'aftersales_parts_event_failures', '', count(*) FILTER (WHERE f.resolved_at IS NULL)::float8,
           'intake events set aside because they could not be applied'
        FROM event_failures f
$$;
