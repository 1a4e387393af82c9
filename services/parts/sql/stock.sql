-- parts: stock functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Publish StockBelowSafety when balance s has just fallen below its safety level; re-arm when it
-- is back at or above it.
CREATE OR REPLACE FUNCTION safety_watch(s stock) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    p stock_policy;
BEGIN
    UPDATE stock_policy SET below = true, crossed_at = now(), alerts = alerts + 1, updated_at = now()
        WHERE site = s.site AND sku = s.sku AND NOT below AND s.available < safety_level
        RETURNING * INTO p;
    IF FOUND THEN
        PERFORM emit('parts', 'parts.StockBelowSafety', jsonb_build_object(
            'site', s.site, 'sku', s.sku, 'available', s.available,
            'safety_level', p.safety_level, 'reorder_point', p.reorder_point));
        PERFORM audit_write(svc_principal(), NULL, 'below_safety', 'stock', s.site || '/' || s.sku,
                            jsonb_build_object('available', s.available, 'safety_level', p.safety_level));
        RETURN;
    END IF;
    UPDATE stock_policy SET below = false, updated_at = now()
        WHERE site = s.site AND sku = s.sku AND below AND s.available >= safety_level;
END $$;

-- The only way a balance changes: apply the new movement's deltas to its balance row (created
-- at zero when missing), record the balance after, and watch the safety level. A delta that
-- would make any quantity negative fails the whole transaction with 409 insufficient_stock.
CREATE OR REPLACE FUNCTION movement_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s stock;
BEGIN
    INSERT INTO stock(site, sku) VALUES (NEW.site, NEW.sku) ON CONFLICT DO NOTHING;
    PERFORM set_config('parts.movement', NEW.id::text, true);
    BEGIN
        UPDATE stock SET on_hand = on_hand + NEW.d_on_hand, reserved = reserved + NEW.d_reserved,
                         defective = defective + NEW.d_defective, last_movement_id = NEW.id,
                         updated_at = now()
            WHERE site = NEW.site AND sku = NEW.sku
            RETURNING * INTO s;
    EXCEPTION WHEN check_violation THEN
        PERFORM fail(409, 'insufficient_stock',
                     format('%s of %s x %s at %s would leave negative stock', NEW.kind, NEW.qty,
                            NEW.sku, NEW.site));
    END;
    PERFORM set_config('parts.movement', '', true);
    NEW.on_hand_after := s.on_hand;
    NEW.reserved_after := s.reserved;
    NEW.defective_after := s.defective;
    PERFORM safety_watch(s);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER movement_apply BEFORE INSERT ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_apply();

CREATE OR REPLACE FUNCTION movement_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'AS409', MESSAGE = 'immutable',
        DETAIL = 'stock movements are never updated or deleted; post a correcting movement';
END $$;

CREATE OR REPLACE TRIGGER movement_no_update BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_immutable();

CREATE OR REPLACE TRIGGER movement_no_truncate BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION movement_immutable();

CREATE OR REPLACE TRIGGER stock_no_truncate BEFORE TRUNCATE ON stock
    FOR EACH STATEMENT EXECUTE FUNCTION movement_immutable();

-- Balance rows are born at zero and change only inside movement_apply().
CREATE OR REPLACE FUNCTION stock_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.on_hand = 0 AND NEW.reserved = 0 AND NEW.defective = 0
       AND NEW.last_movement_id IS NULL THEN
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' AND NEW.site = OLD.site AND NEW.sku = OLD.sku
          AND NEW.last_movement_id IS DISTINCT FROM OLD.last_movement_id
          AND NEW.last_movement_id::text = current_setting('parts.movement', true) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'AS409', MESSAGE = 'ledger_only',
        DETAIL = 'stock balances change only by posting a movement';
END $$;

CREATE OR REPLACE TRIGGER stock_guard BEFORE INSERT OR UPDATE OR DELETE ON stock
    FOR EACH ROW EXECUTE FUNCTION stock_guard();

-- Post one movement. r carries the references: ticket_id, line_no, transfer_id, return_id,
-- reason, note, actor, request_id.
CREATE OR REPLACE FUNCTION mv(p_site text, p_sku text, p_kind text, p_on int, p_res int, p_def int, r jsonb)
RETURNS movements
LANGUAGE plpgsql AS $$
DECLARE
    m movements;
BEGIN
    INSERT INTO movements(site, sku, kind, qty, d_on_hand, d_reserved, d_defective, ticket_id,
                          line_no, transfer_id, return_id, reason, note, actor, request_id)
    VALUES (p_site, p_sku, p_kind, greatest(abs(p_on), abs(p_res), abs(p_def)), p_on, p_res, p_def,
            r->>'ticket_id', (r->>'line_no')::int, r->>'transfer_id', r->>'return_id',
            nullif(r->>'reason', ''), nullif(r->>'note', ''), coalesce(r->>'actor', 'parts'),
            r->>'request_id')
    RETURNING * INTO m;
    RETURN m;
END $$;

-- Lock the balance row of (site, sku), creating it at zero when missing.
CREATE OR REPLACE FUNCTION lock_stock(p_site text, p_sku text) RETURNS stock
LANGUAGE plpgsql AS $$
DECLARE
    s stock;
BEGIN
    INSERT INTO stock(site, sku) VALUES (p_site, p_sku) ON CONFLICT DO NOTHING;
    SELECT * INTO s FROM stock WHERE site = p_site AND sku = p_sku FOR UPDATE;
    RETURN s;
END $$;

CREATE OR REPLACE FUNCTION movement_json(m movements) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', m.id, 'at', ts(m.at), 'site', m.site, 'sku', m.sku, 'kind', m.kind, 'qty', m.qty,
        'on_hand_delta', m.d_on_hand, 'reserved_delta', m.d_reserved,
        'defective_delta', m.d_defective, 'on_hand_after', m.on_hand_after,
        'reserved_after', m.reserved_after, 'defective_after', m.defective_after,
        'ticket_id', m.ticket_id, 'line_no', m.line_no, 'transfer_id', m.transfer_id,
        'return_id', m.return_id, 'reason', m.reason, 'note', m.note, 'actor', m.actor))
$$;

-- Every way a balance could disagree with the ledger or with what holds its reserved units.
-- Empty means: balance = sum(ledger) for every site x SKU, the balance row saw the last
-- movement, and reserved = reserved ticket lines + allocated transfers leaving the site.
CREATE OR REPLACE FUNCTION ledger_mismatches()
RETURNS TABLE (site text, sku text, problem text, balance int, expected int)
LANGUAGE sql STABLE AS $$
    WITH j AS (
        SELECT coalesce(s.site, l.site) AS site, coalesce(s.sku, l.sku) AS sku,
               coalesce(s.on_hand, 0) AS b_on, coalesce(l.on_hand, 0) AS l_on,
               coalesce(s.reserved, 0) AS b_res, coalesce(l.reserved, 0) AS l_res,
               coalesce(s.defective, 0) AS b_def, coalesce(l.defective, 0) AS l_def,
               s.last_movement_id AS b_last, l.last_id AS l_last
        FROM stock s FULL JOIN ledger_totals l ON l.site = s.site AND l.sku = s.sku),
    holds AS (
        SELECT h.site, h.sku, sum(h.qty)::int AS qty FROM (
            SELECT r.site, r.sku, r.qty FROM reservations r WHERE r.state = 'reserved'
            UNION ALL
            SELECT t.from_site, tl.sku, tl.qty FROM transfers t
                JOIN transfer_lines tl ON tl.transfer_id = t.id WHERE t.state = 'allocated') h
        GROUP BY h.site, h.sku)
    SELECT j.site, j.sku, 'on_hand', j.b_on, j.l_on FROM j WHERE j.b_on <> j.l_on
    UNION ALL
    SELECT j.site, j.sku, 'reserved', j.b_res, j.l_res FROM j WHERE j.b_res <> j.l_res
    UNION ALL
    SELECT j.site, j.sku, 'defective', j.b_def, j.l_def FROM j WHERE j.b_def <> j.l_def
    UNION ALL
    SELECT j.site, j.sku, 'last_movement', coalesce(j.b_last, 0)::int, coalesce(j.l_last, 0)::int
        FROM j WHERE j.b_last IS DISTINCT FROM j.l_last
    UNION ALL
    SELECT coalesce(j.site, h.site), coalesce(j.sku, h.sku), 'reserved_unexplained',
           coalesce(j.b_res, 0), coalesce(h.qty, 0)
        FROM j FULL JOIN holds h ON h.site = j.site AND h.sku = j.sku
        WHERE coalesce(j.b_res, 0) <> coalesce(h.qty, 0)
$$;

CREATE OR REPLACE VIEW ledger_check AS SELECT * FROM ledger_mismatches();

CREATE OR REPLACE FUNCTION ledger_ok() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM ledger_mismatches());
END $$;

CREATE OR REPLACE FUNCTION stock_item_json(v stock_view) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'site', v.site, 'sku', v.sku, 'name', v.name, 'on_hand', v.on_hand,
        'reserved', v.reserved, 'available', v.available, 'defective', v.defective,
        'safety_level', v.safety_level, 'reorder_point', v.reorder_point,
        'lead_time_days', v.lead_time_days, 'below_safety', v.below_safety,
        'inbound', v.inbound, 'backordered', v.backordered,
        'last_movement_id', v.last_movement_id))
$$;

-- Available stock of (site, sku) grew: serve ticket lines first, then transfers.
CREATE OR REPLACE FUNCTION stock_increased(p_site text, p_sku text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fill_backorders(p_site, p_sku);
    PERFORM allocate_waiting(p_site, p_sku);
END $$;

CREATE OR REPLACE FUNCTION cmd_get_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_list_movements(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

-- A goods receipt: every row a `receipt` movement, all or nothing, then waiting demand served.
CREATE OR REPLACE FUNCTION cmd_receive_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_adjust_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_scrap_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_set_safety_stock(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_get_replenishment(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_check_ledger(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

-- The values a table's CHECK constraint allows (state IN (...)): the known labels of a gauge.
CREATE OR REPLACE FUNCTION check_values(p_table regclass, p_constraint text)
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT (regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g'))[1]
      FROM pg_constraint c WHERE c.conrelid = p_table AND c.conname = p_constraint
$$;

-- Gauges for the gateway's /metrics: rows (name, labels, value, help). Every known state (and
-- return status) has its series, at 0 while nothing is in it.
CREATE OR REPLACE FUNCTION parts_metrics()
RETURNS TABLE (name text, labels text, value float8, help text)
LANGUAGE sql STABLE AS $$
    SELECT 'aftersales_parts_lines', format('state="%s"', k.state), count(r.state)::float8,
           'ticket part lines by state'
        FROM (SELECT check_values('reservations', 'reservations_state_check')
              UNION SELECT DISTINCT state FROM reservations) k (state)
        LEFT JOIN reservations r ON r.state = k.state GROUP BY k.state
    UNION ALL
    SELECT 'aftersales_parts_transfers', format('state="%s"', k.state), count(t.state)::float8,
           'transfers by state'
        FROM (SELECT check_values('transfers', 'transfers_state_check')
              UNION SELECT DISTINCT state FROM transfers) k (state)
        LEFT JOIN transfers t ON t.state = k.state GROUP BY k.state
    UNION ALL
    -- return_status(): owed, overdue or returned.
    SELECT 'aftersales_parts_returns', format('status="%s"', k.status), count(d.status)::float8,
           'defective returns by status'
        FROM (VALUES ('owed'), ('overdue'), ('returned')) k (status)
        LEFT JOIN (SELECT return_status(x) AS status FROM defective_returns x) d
               ON d.status = k.status
        GROUP BY k.status
    UNION ALL
    SELECT 'aftersales_parts_below_safety', '', count(*) FILTER (WHERE p.below)::float8,
           'site x SKU pairs below their safety level'
        FROM stock_policy p
    UNION ALL
    SELECT 'aftersales_parts_event_failures', '', count(*) FILTER (WHERE f.resolved_at IS NULL)::float8,
           'intake events set aside because they could not be applied'
        FROM event_failures f
$$;

CREATE OR REPLACE FUNCTION stock_valued_event(mv movement_values, p_at timestamptz, p_ticket text,
                                   p_reason text, p_unit bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'movement_id', mv.movement_id, 'at', ts(p_at), 'kind', mv.kind, 'site', mv.site,
        'sku', mv.sku, 'qty', mv.qty, 'value_cents', mv.value_cents, 'bucket', mv.bucket,
        'direction', mv.direction, 'transfer_id', mv.transfer_id, 'ticket_id', p_ticket,
        'reason', p_reason, 'unit_cost_cents', p_unit)
$$;

-- After every movement: value it, keep the site's value, and publish parts.StockValued.
CREATE OR REPLACE FUNCTION movement_value() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v stock_values;
    t transit_values;
    r movement_values;
    v_unit bigint;
    v_prev int;
    v_value bigint;
BEGIN
    IF NEW.kind IN ('reserve', 'release') THEN
        RETURN NULL;
    END IF;
    INSERT INTO stock_values(site, sku) VALUES (NEW.site, NEW.sku) ON CONFLICT DO NOTHING;
    SELECT * INTO v FROM stock_values WHERE site = NEW.site AND sku = NEW.sku FOR UPDATE;
    SELECT unit_cost_cents INTO v_unit FROM skus WHERE sku = NEW.sku;
    v_unit := coalesce(v_unit, 0);
    r.movement_id := NEW.id;
    r.site := NEW.site;
    r.sku := NEW.sku;
    r.kind := NEW.kind;
    r.qty := NEW.qty;
    r.transfer_id := NEW.transfer_id;
    IF NEW.d_on_hand > 0 THEN
        v_prev := NEW.on_hand_after - NEW.d_on_hand;
        IF NEW.kind = 'transfer_in' THEN
            SELECT * INTO t FROM transit_values
                WHERE transfer_id = NEW.transfer_id AND sku = NEW.sku FOR UPDATE;
            IF NOT FOUND OR t.qty <= 0 THEN
                v_value := NEW.qty * v_unit; -- shipped before valuation began: catalogue cost
            ELSIF NEW.qty >= t.qty THEN
                v_value := t.value_cents;
            ELSE
                v_value := round(t.value_cents::numeric * NEW.qty / t.qty);
            END IF;
            IF FOUND THEN
                UPDATE transit_values SET qty = greatest(qty - NEW.qty, 0),
                                          value_cents = value_cents - least(v_value, value_cents)
                    WHERE transfer_id = NEW.transfer_id AND sku = NEW.sku;
            END IF;
        ELSIF NEW.kind = 'receipt' THEN
            v_value := NEW.qty * v_unit;
        ELSIF v_prev > 0 THEN
            v_value := round(v.value_cents::numeric * NEW.qty / v_prev);
        ELSE
            v_value := NEW.qty * v_unit;
        END IF;
        r.bucket := 'stock';
        r.direction := 1;
        UPDATE stock_values SET value_cents = value_cents + v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSIF NEW.d_on_hand < 0 THEN
        v_prev := NEW.on_hand_after - NEW.d_on_hand;
        IF NEW.on_hand_after = 0 THEN
            v_value := v.value_cents;
        ELSE
            v_value := least(round(v.value_cents::numeric * NEW.qty / v_prev)::bigint, v.value_cents);
        END IF;
        r.bucket := 'stock';
        r.direction := -1;
        UPDATE stock_values SET value_cents = value_cents - v_value
            WHERE site = NEW.site AND sku = NEW.sku;
        IF NEW.kind = 'transfer_out' THEN
            INSERT INTO transit_values(transfer_id, sku, qty, value_cents)
                VALUES (NEW.transfer_id, NEW.sku, NEW.qty, v_value)
                ON CONFLICT (transfer_id, sku) DO UPDATE
                    SET qty = transit_values.qty + EXCLUDED.qty,
                        value_cents = transit_values.value_cents + EXCLUDED.value_cents;
        END IF;
    ELSIF NEW.d_defective > 0 THEN
        v_value := NEW.qty * v_unit;
        r.bucket := 'defective';
        r.direction := 1;
        UPDATE stock_values SET defective_value_cents = defective_value_cents + v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSIF NEW.d_defective < 0 THEN
        v_prev := NEW.defective_after - NEW.d_defective;
        IF NEW.defective_after = 0 THEN
            v_value := v.defective_value_cents;
        ELSE
            v_value := least(round(v.defective_value_cents::numeric * NEW.qty / v_prev)::bigint,
                             v.defective_value_cents);
        END IF;
        r.bucket := 'defective';
        r.direction := -1;
        UPDATE stock_values SET defective_value_cents = defective_value_cents - v_value
            WHERE site = NEW.site AND sku = NEW.sku;
    ELSE
        RETURN NULL;
    END IF;
    r.value_cents := v_value;
    INSERT INTO movement_values VALUES (r.*);
    IF v_value > 0 THEN
        PERFORM emit('parts', 'parts.StockValued',
                     stock_valued_event(r, NEW.at, NEW.ticket_id, NEW.reason,
                                        CASE WHEN NEW.qty > 0 THEN round(v_value::numeric / NEW.qty)::bigint END),
                     NEW.request_id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER movement_value AFTER INSERT ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_value();

CREATE OR REPLACE FUNCTION value_mismatches()
RETURNS TABLE (site text, sku text, problem text, value bigint, expected bigint)
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT mv.site, mv.sku,
               sum(mv.direction * mv.value_cents) FILTER (WHERE mv.bucket = 'stock') AS stock,
               sum(mv.direction * mv.value_cents) FILTER (WHERE mv.bucket = 'defective') AS defective
        FROM movement_values mv GROUP BY mv.site, mv.sku)
    SELECT v.site, v.sku, 'value differs from the sum of its movements', v.value_cents,
           coalesce(o.value_cents, 0) + coalesce(m.stock, 0)
    FROM stock_values v LEFT JOIN m USING (site, sku) LEFT JOIN opening_values o USING (site, sku)
    WHERE v.value_cents <> coalesce(o.value_cents, 0) + coalesce(m.stock, 0)
    UNION ALL
    SELECT v.site, v.sku, 'defective value differs from the sum of its movements',
           v.defective_value_cents, coalesce(o.defective_value_cents, 0) + coalesce(m.defective, 0)
    FROM stock_values v LEFT JOIN m USING (site, sku) LEFT JOIN opening_values o USING (site, sku)
    WHERE v.defective_value_cents <> coalesce(o.defective_value_cents, 0) + coalesce(m.defective, 0)
    UNION ALL
    SELECT s.site, s.sku, 'no units but a value', v.value_cents + v.defective_value_cents, 0
    FROM stock s JOIN stock_values v USING (site, sku)
    WHERE (s.on_hand = 0 AND v.value_cents <> 0) OR (s.defective = 0 AND v.defective_value_cents <> 0)
    UNION ALL
    SELECT t.from_site, v.sku, 'value in transit on a transfer that is not in transit',
           v.value_cents, 0
    FROM transit_values v JOIN transfers t ON t.id = v.transfer_id
    WHERE t.state <> 'shipped' AND v.value_cents <> 0
$$;

-- Totals the ledger must show: parts inventory (good stock), in transit, defective held.
CREATE OR REPLACE FUNCTION valuation_totals(OUT stock_cents bigint, OUT transit_cents bigint,
                                 OUT defective_cents bigint)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT coalesce(sum(value_cents), 0) FROM stock_values)::bigint,
           (SELECT coalesce(sum(value_cents), 0) FROM transit_values)::bigint,
           (SELECT coalesce(sum(defective_value_cents), 0) FROM stock_values)::bigint
$$;
