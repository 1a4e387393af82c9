-- parts: reservations functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION reservation_json(r reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', r.ticket_id, 'line_no', r.line_no, 'site', r.site, 'sku', r.sku,
        'qty', r.qty, 'state', r.state, 'transfer_id', r.transfer_id,
        'requested_at', ts(r.requested_at), 'reserved_at', ts(r.reserved_at),
        'closed_at', ts(r.closed_at), 'issued_qty', r.issued_qty, 'note', r.note))
$$;

CREATE OR REPLACE FUNCTION line_json(r reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('line_no', r.line_no, 'sku', r.sku, 'qty', r.qty)
$$;

-- Every line requested so far for the ticket is reserved (or already issued).
CREATE OR REPLACE FUNCTION ticket_complete(p_ticket text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM reservations r
                       WHERE r.ticket_id = p_ticket AND r.state NOT IN ('reserved', 'issued'));
END $$;

-- Reserve line r (state backordered) at its site if the stock is there and no older backorder
-- waits for the same SKU at that site. The balance row is locked first, so two transactions
-- racing for the last unit serialise here and the second sees what the first took.
CREATE OR REPLACE FUNCTION try_reserve(r reservations) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    s stock;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM skus WHERE sku = r.sku) THEN
        RETURN false;
    END IF;
    s := lock_stock(r.site, r.sku);
    IF s.available < r.qty THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM reservations o WHERE o.site = r.site AND o.sku = r.sku
               AND o.state = 'backordered' AND o.fifo < r.fifo) THEN
        RETURN false;
    END IF;
    PERFORM mv(r.site, r.sku, 'reserve', 0, r.qty, 0,
               jsonb_build_object('ticket_id', r.ticket_id, 'line_no', r.line_no));
    UPDATE reservations SET state = 'reserved', reserved_at = now()
        WHERE ticket_id = r.ticket_id AND line_no = r.line_no AND state = 'backordered';
    RETURN true;
END $$;

-- Stock of (site, sku) became available: reserve backordered lines there in request order,
-- stopping at the first one that does not fit (strict FIFO: a big old request is not starved
-- by small new ones), and publish PartsReserved per ticket. Returns the number of lines filled.
CREATE OR REPLACE FUNCTION fill_backorders(p_site text, p_sku text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    s stock;
    r reservations;
    v_filled jsonb := '{}';
    v_n int := 0;
    k text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM skus WHERE sku = p_sku) THEN
        RETURN 0;
    END IF;
    s := lock_stock(p_site, p_sku);
    FOR r IN SELECT * FROM reservations
             WHERE site = p_site AND sku = p_sku AND state = 'backordered'
             ORDER BY fifo FOR UPDATE LOOP
        SELECT * INTO s FROM stock WHERE site = p_site AND sku = p_sku;
        EXIT WHEN s.available < r.qty;
        PERFORM mv(r.site, r.sku, 'reserve', 0, r.qty, 0,
                   jsonb_build_object('ticket_id', r.ticket_id, 'line_no', r.line_no));
        UPDATE reservations SET state = 'reserved', reserved_at = now()
            WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
        v_filled := jsonb_set(v_filled, ARRAY[r.ticket_id],
                              coalesce(v_filled->r.ticket_id, '[]') || line_json(r));
        v_n := v_n + 1;
    END LOOP;
    FOR k IN SELECT jsonb_object_keys(v_filled) ORDER BY 1 LOOP
        PERFORM emit_reserved(k, p_site, v_filled->k);
    END LOOP;
    RETURN v_n;
END $$;

-- Allocate every line of transfer p_id at its source (reserve movements), or nothing. FIFO per
-- source and SKU: an older waiting transfer of the same SKU goes first. Returns whether the
-- transfer is allocated now.
CREATE OR REPLACE FUNCTION try_allocate(p_id text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
    l transfer_lines;
    s stock;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR t.state <> 'waiting' THEN
        RETURN FOUND AND t.state = 'allocated';
    END IF;
    -- Balance rows are locked in SKU order (the same order everywhere) to avoid deadlocks.
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = p_id ORDER BY sku LOOP
        s := lock_stock(t.from_site, l.sku);
        IF s.available < l.qty THEN
            RETURN false;
        END IF;
        IF EXISTS (SELECT 1 FROM transfers o JOIN transfer_lines ol ON ol.transfer_id = o.id
                   WHERE o.from_site = t.from_site AND o.state = 'waiting' AND ol.sku = l.sku
                     AND o.fifo < t.fifo) THEN
            RETURN false;
        END IF;
    END LOOP;
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = p_id ORDER BY sku LOOP
        PERFORM mv(t.from_site, l.sku, 'reserve', 0, l.qty, 0,
                   jsonb_build_object('transfer_id', t.id, 'ticket_id', t.ticket_id,
                                      'line_no', t.line_no));
    END LOOP;
    UPDATE transfers SET state = 'allocated', allocated_at = now() WHERE id = p_id AND state = 'waiting';
    PERFORM audit_write(svc_principal(), NULL, 'allocate', 'transfer', p_id, '{}');
    RETURN true;
END $$;

-- Waiting transfers from p_site that need p_sku, oldest first, until one does not fit.
CREATE OR REPLACE FUNCTION allocate_waiting(p_site text, p_sku text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_n int := 0;
BEGIN
    FOR v_id IN SELECT o.id FROM transfers o JOIN transfer_lines ol ON ol.transfer_id = o.id
                WHERE o.from_site = p_site AND o.state = 'waiting' AND ol.sku = p_sku
                ORDER BY o.fifo LOOP
        EXIT WHEN NOT try_allocate(v_id);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END $$;

-- The ticket of event e, created (open) when first heard of, locked for the handler.
CREATE OR REPLACE FUNCTION ensure_ticket(e jsonb) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    PERFORM ensure_site(e->>'center', e->>'region');
    INSERT INTO tickets(ticket_id, center, region, brand, manufacturer, warranty)
        VALUES (e->>'ticket_id', e->>'center', e->>'region', e->>'brand', e->>'manufacturer',
                coalesce((e->>'warranty')::boolean, false))
        ON CONFLICT (ticket_id) DO NOTHING;
    SELECT * INTO t FROM tickets WHERE ticket_id = e->>'ticket_id' FOR UPDATE;
    RETURN t;
END $$;

-- parts: a backordered line given up (the ticket was cancelled or returned unrepaired, or the
-- repair did not use it) is reported in parts.PartsReleased too, not only a reserved one, so
-- intake's copy of the line ends `released` instead of staying `backordered` forever. Nothing
-- else changes: a backorder still holds no stock and its transfer is cancelled as before.
CREATE OR REPLACE FUNCTION close_open_lines(t tickets, p_reason text, INOUT touched text[],
                                           OUT released jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r reservations;
    v_sku text;
    v_wh text := setting('warehouse');
BEGIN
    released := '[]';
    FOR r IN SELECT * FROM reservations WHERE ticket_id = t.ticket_id
             AND state IN ('reserved', 'backordered') ORDER BY line_no FOR UPDATE LOOP
        IF r.state = 'reserved' THEN
            PERFORM lock_stock(r.site, r.sku);
            PERFORM mv(r.site, r.sku, 'release', 0, -r.qty, 0,
                       jsonb_build_object('ticket_id', r.ticket_id, 'line_no', r.line_no,
                                          'reason', p_reason));
            UPDATE reservations SET state = 'released', closed_at = now()
                WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
            released := released || line_json(r);
            touched := touched || (r.site || '|' || r.sku);
        ELSE
            UPDATE reservations SET state = 'cancelled', closed_at = now()
                WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
            released := released || line_json(r);
            IF r.transfer_id IS NOT NULL THEN
                FOREACH v_sku IN ARRAY cancel_transfer(r.transfer_id, 'parts', p_reason) LOOP
                    touched := touched || (coalesce(v_wh, '') || '|' || v_sku);
                END LOOP;
            END IF;
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION cmd_list_reservations(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
