-- parts: transfers functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION transfer_json(t transfers) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'from', t.from_site, 'to', t.to_site, 'state', t.state,
        'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('line_no', l.line_no, 'sku', l.sku,
                                                               'qty', l.qty) ORDER BY l.line_no), '[]')
                  FROM transfer_lines l WHERE l.transfer_id = t.id),
        'origin', t.origin, 'ticket_id', t.ticket_id, 'line_no', t.line_no, 'note', t.note,
        'created_at', ts(t.created_at), 'allocated_at', ts(t.allocated_at),
        'shipped_at', ts(t.shipped_at), 'received_at', ts(t.received_at),
        'cancelled_at', ts(t.cancelled_at), 'created_by', t.created_by,
        'approval_site', t.approval_site, 'approval_reason', t.approval_reason,
        'approved_by', t.approved_by, 'approved_at', ts(t.approved_at),
        'received_by', t.received_by,
        'discrepancies', (SELECT jsonb_agg(jsonb_build_object(
                              'sku', d.sku, 'shipped', d.shipped, 'received', d.received,
                              'damaged', d.damaged, 'missing', d.missing,
                              'value_cents', d.value_cents, 'note', d.note) ORDER BY d.sku)
                          FROM transfer_discrepancies d WHERE d.transfer_id = t.id)));
END $$;

-- A backordered line at a centre asks the warehouse for the part: a transfer of its own,
-- allocated at once when the warehouse has the stock (and nobody older is waiting for it).
CREATE OR REPLACE FUNCTION backorder_transfer(r reservations) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_wh text := setting('warehouse');
    v_id text;
BEGIN
    IF r.site = v_wh OR NOT EXISTS (SELECT 1 FROM sites WHERE code = v_wh)
       OR NOT EXISTS (SELECT 1 FROM skus WHERE sku = r.sku) THEN
        RETURN NULL;
    END IF;
    INSERT INTO transfers(from_site, to_site, state, origin, ticket_id, line_no, created_by, note)
        VALUES (v_wh, r.site, 'waiting', 'backorder', r.ticket_id, r.line_no, 'parts',
                format('backorder of ticket %s line %s', r.ticket_id, r.line_no))
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO transfer_lines(transfer_id, line_no, sku, qty) VALUES (v_id, 1, r.sku, r.qty);
    UPDATE reservations SET transfer_id = v_id WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
    PERFORM audit_write(svc_principal(), NULL, 'request', 'transfer', v_id,
                        jsonb_build_object('ticket_id', r.ticket_id, 'line_no', r.line_no,
                                           'sku', r.sku, 'qty', r.qty));
    PERFORM try_allocate(v_id);
    RETURN v_id;
END $$;

-- Cancel transfer p_id if it has not left yet, giving back its allocation at the source.
-- Returns the SKUs whose available stock grew at the source.
CREATE OR REPLACE FUNCTION cancel_transfer(p_id text, p_actor text, p_reason text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    t transfers;
    l transfer_lines;
    v_skus text[] := '{}';
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR t.state NOT IN ('waiting', 'allocated') THEN
        RETURN v_skus;
    END IF;
    IF t.state = 'allocated' THEN
        FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = p_id ORDER BY sku LOOP
            PERFORM lock_stock(t.from_site, l.sku);
            PERFORM mv(t.from_site, l.sku, 'release', 0, -l.qty, 0,
                       jsonb_build_object('transfer_id', t.id, 'ticket_id', t.ticket_id,
                                          'line_no', t.line_no, 'actor', p_actor,
                                          'reason', p_reason));
            v_skus := v_skus || l.sku;
        END LOOP;
    END IF;
    UPDATE transfers SET state = 'cancelled', cancelled_at = now(),
                         note = concat_ws(' / ', note, 'cancelled: ' || p_reason)
        WHERE id = p_id;
    RETURN v_skus;
END $$;

CREATE OR REPLACE FUNCTION cmd_create_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_from text := a->>'from';
    v_to text := a->>'to';
    v_bad text;
    t transfers;
    ap record;
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
    -- Judged under the source's balance locks (SKU order, as everywhere).
    PERFORM lock_stock(v_from, x.sku)
        FROM (SELECT DISTINCT l->>'sku' AS sku FROM jsonb_array_elements(a->'lines') l ORDER BY 1) x;
    SELECT * INTO ap FROM transfer_approval(p_principal, v_from, a->'lines');
    INSERT INTO transfers(from_site, to_site, state, origin, note, created_by, approval_site,
                          approval_reason)
        VALUES (v_from, v_to, CASE WHEN ap.site IS NULL THEN 'waiting' ELSE 'pending_approval' END,
                'manual', a->>'note', actor(p_principal), ap.site, ap.reason)
        RETURNING * INTO t;
    INSERT INTO transfer_lines(transfer_id, line_no, sku, qty)
        SELECT t.id, n, l->>'sku', (l->>'qty')::int
        FROM jsonb_array_elements(a->'lines') WITH ORDINALITY AS x(l, n);
    PERFORM audit_write(p_principal, p_req, 'request', 'transfer', t.id,
                        jsonb_strip_nulls(jsonb_build_object('from', v_from, 'to', v_to,
                            'lines', a->'lines', 'approval_site', ap.site,
                            'approval_reason', ap.reason)));
    IF ap.site IS NULL THEN
        PERFORM try_allocate(t.id);
    END IF;
    SELECT * INTO t FROM transfers WHERE id = t.id;
    RETURN jsonb_build_object('status', 201, 'body', transfer_json(t));
END $$;

-- The transfer for a command, locked: 404 when missing or neither end is in the caller's scope.
CREATE OR REPLACE FUNCTION transfer_for_update(p_principal jsonb, p_id text) RETURNS transfers
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

CREATE OR REPLACE FUNCTION transfer_event(t transfers) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('transfer_id', t.id, 'from', t.from_site, 'to', t.to_site,
                              'ticket_id', t.ticket_id,
                              'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                            'line_no', l.line_no, 'sku', l.sku, 'qty', l.qty)
                                            ORDER BY l.line_no), '[]')
                                        FROM transfer_lines l WHERE l.transfer_id = t.id));
END $$;

CREATE OR REPLACE FUNCTION cmd_ship_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

-- Receive a shipped transfer at its destination. a.lines (optional): [{sku, qty, damaged}] —
-- what arrived in good condition and damaged, per SKU; a SKU not listed arrived in full.
CREATE OR REPLACE FUNCTION cmd_receive_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
    l transfer_lines;
    r jsonb;
    v_bad text;
    v_good int;
    v_damaged int;
    v_missing int;
    v_left bigint;
    d transfer_discrepancies;
BEGIN
    IF NOT acts_for(p_principal, t.to_site) THEN
        PERFORM fail(403, 'forbidden', format('only site %s confirms the arrival of transfer %s',
                                              t.to_site, t.id));
    END IF;
    IF t.state <> 'shipped' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; receiving needs it to be shipped', t.id, t.state));
    END IF;
    SELECT string_agg(x->>'sku', ', ') INTO v_bad FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
        WHERE NOT EXISTS (SELECT 1 FROM transfer_lines tl WHERE tl.transfer_id = t.id AND tl.sku = x->>'sku');
    IF v_bad IS NOT NULL THEN
        PERFORM fail(422, 'unknown_line', format('transfer %s carries no %s', t.id, v_bad));
    END IF;
    SELECT string_agg(sku, ', ') INTO v_bad FROM (
        SELECT x->>'sku' AS sku FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
        GROUP BY 1 HAVING count(*) > 1) z;
    IF v_bad IS NOT NULL THEN
        PERFORM fail(422, 'duplicate_line', format('%s is listed twice', v_bad));
    END IF;
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = t.id ORDER BY sku LOOP
        SELECT x INTO r FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x WHERE x->>'sku' = l.sku;
        v_damaged := coalesce((r->>'damaged')::int, 0);
        v_good := coalesce((r->>'qty')::int, l.qty - v_damaged);
        IF v_good < 0 OR v_damaged < 0 OR v_good + v_damaged > l.qty THEN
            PERFORM fail(422, 'over_received',
                         format('%s: %s shipped, but %s good and %s damaged received', l.sku, l.qty,
                                v_good, v_damaged));
        END IF;
        v_missing := l.qty - v_good - v_damaged;
        PERFORM lock_stock(t.to_site, l.sku);
        IF v_good > 0 THEN
            PERFORM mv(t.to_site, l.sku, 'transfer_in', v_good, 0, 0,
                       jsonb_build_object('transfer_id', t.id, 'ticket_id', t.ticket_id,
                                          'line_no', t.line_no, 'note', a->>'note',
                                          'actor', actor(p_principal), 'request_id', p_req));
        END IF;
        IF v_damaged + v_missing > 0 THEN
            -- What is still in transit for this SKU did not arrive usable: written off.
            SELECT value_cents INTO v_left FROM transit_values
                WHERE transfer_id = t.id AND sku = l.sku FOR UPDATE;
            v_left := coalesce(v_left, 0);
            UPDATE transit_values SET qty = 0, value_cents = 0 WHERE transfer_id = t.id AND sku = l.sku;
            INSERT INTO transfer_discrepancies(transfer_id, sku, shipped, received, damaged, missing,
                                               value_cents, note, recorded_by)
                VALUES (t.id, l.sku, l.qty, v_good, v_damaged, v_missing, v_left,
                        nullif(r->>'note', ''), actor(p_principal))
                RETURNING * INTO d;
            IF v_left > 0 THEN
                PERFORM emit('parts', 'parts.StockValued', jsonb_build_object(
                    'movement_id', d.id, 'at', ts(d.recorded_at), 'kind', 'transit_loss',
                    'site', t.to_site, 'sku', l.sku, 'qty', v_damaged + v_missing,
                    'value_cents', v_left, 'bucket', 'stock', 'direction', -1,
                    'transfer_id', t.id, 'ticket_id', t.ticket_id,
                    'reason', format('%s missing, %s damaged on arrival', v_missing, v_damaged)), p_req);
            END IF;
            PERFORM audit_write(p_principal, p_req, 'discrepancy', 'transfer', t.id,
                                jsonb_build_object('sku', l.sku, 'shipped', l.qty, 'received', v_good,
                                                   'damaged', v_damaged, 'missing', v_missing,
                                                   'value_cents', v_left));
        END IF;
    END LOOP;
    UPDATE transfers SET state = 'received', received_at = now(), received_by = actor(p_principal)
        WHERE id = t.id AND state = 'shipped'
        RETURNING * INTO t;
    PERFORM emit('parts', 'parts.TransferReceived', transfer_event(t), p_req);
    PERFORM audit_write(p_principal, p_req, 'receive', 'transfer', t.id, '{}');
    -- The stock that arrived serves the site's backorders in request order.
    FOR l IN SELECT * FROM transfer_lines WHERE transfer_id = t.id ORDER BY sku LOOP
        PERFORM stock_increased(t.to_site, l.sku);
    END LOOP;
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;

CREATE OR REPLACE FUNCTION cmd_cancel_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_get_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION cmd_list_transfers(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

-- Would the caller's new transfer take another site's stock without asking? The site whose
-- approval it needs and why, or NULL.
CREATE OR REPLACE FUNCTION transfer_approval(p_principal jsonb, p_from text, p_lines jsonb,
                                  OUT site text, OUT reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_kind text;
    v_sku text;
BEGIN
    IF p_principal->>'role' IN ('admin', 'service') THEN
        RETURN;
    END IF;
    SELECT kind INTO v_kind FROM sites WHERE code = p_from;
    IF v_kind = 'center' AND p_principal->>'site' IS DISTINCT FROM p_from THEN
        site := p_from;
        reason := format('the stock of centre %s is moved only with its approval', p_from);
        RETURN;
    END IF;
    IF v_kind = 'warehouse' AND p_principal->>'role' = 'center' THEN
        SELECT l->>'sku' INTO v_sku
            FROM jsonb_array_elements(p_lines) l
            JOIN stock_policy p ON p.site = p_from AND p.sku = l->>'sku'
            LEFT JOIN stock s ON s.site = p_from AND s.sku = l->>'sku'
            WHERE coalesce(s.available, 0) - (l->>'qty')::int < p.safety_level
            ORDER BY 1 LIMIT 1;
        IF v_sku IS NOT NULL THEN
            site := p_from;
            reason := format('it would take %s at %s below its safety level', v_sku, p_from);
        END IF;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cmd_approve_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
BEGIN
    IF NOT acts_for(p_principal, t.from_site) THEN
        PERFORM fail(403, 'forbidden', format('only site %s approves transfer %s', t.from_site, t.id));
    END IF;
    IF t.state <> 'pending_approval' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; only a transfer pending approval can be approved',
                            t.id, t.state));
    END IF;
    UPDATE transfers SET state = 'waiting', approved_by = actor(p_principal), approved_at = now(),
                         note = concat_ws(' / ', note, 'approved: ' || nullif(a->>'note', ''))
        WHERE id = t.id;
    PERFORM audit_write(p_principal, p_req, 'approve', 'transfer', t.id,
                        jsonb_strip_nulls(jsonb_build_object('note', a->>'note',
                                                             'reason', t.approval_reason)));
    PERFORM try_allocate(t.id);
    SELECT * INTO t FROM transfers WHERE id = t.id;
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;

CREATE OR REPLACE FUNCTION cmd_reject_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t transfers := transfer_for_update(p_principal, a->>'id');
    v_reason text := coalesce(nullif(btrim(a->>'reason'), ''), 'rejected');
BEGIN
    IF NOT (acts_for(p_principal, t.from_site) OR may_write(p_principal, t.to_site)) THEN
        PERFORM fail(403, 'forbidden', format('only site %s (or the requester) rejects transfer %s',
                                              t.from_site, t.id));
    END IF;
    IF t.state <> 'pending_approval' THEN
        PERFORM fail(409, 'illegal_transition',
                     format('transfer %s is %s; only a transfer pending approval can be rejected',
                            t.id, t.state));
    END IF;
    UPDATE transfers SET state = 'cancelled', cancelled_at = now(),
                         note = concat_ws(' / ', note, 'rejected: ' || v_reason)
        WHERE id = t.id RETURNING * INTO t;
    PERFORM audit_write(p_principal, p_req, 'reject', 'transfer', t.id,
                        jsonb_build_object('reason', v_reason));
    RETURN jsonb_build_object('status', 200, 'body', transfer_json(t));
END $$;
