-- parts: events functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Who acts for the event consumers in audit rows.
CREATE OR REPLACE FUNCTION svc_principal() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"subject": "parts", "role": "service"}'::jsonb
$$;

CREATE OR REPLACE FUNCTION emit_reserved(p_ticket text, p_site text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('parts', 'parts.PartsReserved', jsonb_build_object(
        'ticket_id', p_ticket, 'site', p_site, 'lines', p_lines,
        'complete', ticket_complete(p_ticket)));
    PERFORM audit_write(svc_principal(), NULL, 'reserve', 'ticket', p_ticket,
                        jsonb_build_object('site', p_site, 'lines', p_lines));
END $$;

-- intake.PartsRequested: reserve each new line at the ticket's centre; a line that cannot be
-- reserved is backordered and asks the warehouse for a transfer. Lines already known (same
-- ticket and line number) are skipped, so replays and duplicates reserve nothing twice.
CREATE OR REPLACE FUNCTION on_parts_requested(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    l jsonb;
    r reservations;
    v_reserved jsonb := '[]';
    v_back jsonb := '[]';
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN;
    END IF;
    t := ensure_ticket(e);
    IF t.state <> 'open' THEN
        RETURN; -- the ticket is over: nothing more to reserve (and a replay leaves no trace)
    END IF;
    FOR l IN SELECT x FROM jsonb_array_elements(coalesce(e->'lines', '[]')) x
             ORDER BY (x->>'line_no')::int LOOP
        CONTINUE WHEN (l->>'line_no') IS NULL OR (l->>'line_no')::int < 1
                   OR coalesce((l->>'qty')::int, 0) < 1 OR coalesce(l->>'sku', '') = '';
        INSERT INTO reservations(ticket_id, line_no, site, sku, qty, state)
            VALUES (t.ticket_id, (l->>'line_no')::int, t.center, l->>'sku', (l->>'qty')::int,
                    'backordered')
            ON CONFLICT DO NOTHING
            RETURNING * INTO r;
        CONTINUE WHEN NOT FOUND;
        IF try_reserve(r) THEN
            v_reserved := v_reserved || line_json(r);
        ELSE
            IF NOT EXISTS (SELECT 1 FROM skus WHERE sku = r.sku) THEN
                UPDATE reservations SET note = 'SKU not in the catalogue'
                    WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
            END IF;
            PERFORM backorder_transfer(r);
            v_back := v_back || line_json(r);
        END IF;
    END LOOP;
    IF jsonb_array_length(v_reserved) > 0 THEN
        PERFORM emit_reserved(t.ticket_id, t.center, v_reserved);
    END IF;
    IF jsonb_array_length(v_back) > 0 THEN
        PERFORM emit('parts', 'parts.PartsBackordered', jsonb_build_object(
            'ticket_id', t.ticket_id, 'site', t.center, 'lines', v_back));
        PERFORM audit_write(svc_principal(), NULL, 'backorder', 'ticket', t.ticket_id,
                            jsonb_build_object('site', t.center, 'lines', v_back));
    END IF;
END $$;

-- intake.RepairCompleted: issue the parts used (the reserved line first, then unreserved
-- stock at the centre), release what was reserved but not used, cancel what never came, and
-- record a defective return owed to the warehouse for each part used under warranty (payer
-- manufacturer) whose SKU requires one, due `defective_return_days` after the completion date.
CREATE OR REPLACE FUNCTION on_repair_completed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    u record;
    r reservations;
    s stock;
    d defective_returns;
    v_sku text;
    v_qty int;
    v_line int;
    v_take int;
    v_left int;
    v_backordered boolean;
    v_tsku text;
    v_issued jsonb := '[]';
    v_short jsonb := '[]';
    v_touched text[] := '{}';
    v_released jsonb;
    v_warranty boolean := e->>'payer' = 'manufacturer';
    v_done date := coalesce((try_timestamptz(e->>'completed_at') AT TIME ZONE 'Asia/Shanghai')::date,
                            business_today());
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN;
    END IF;
    t := ensure_ticket(e);
    IF t.state <> 'open' THEN
        RETURN; -- completed (or cancelled) already: a replay changes nothing
    END IF;
    UPDATE tickets SET state = 'completed', payer = e->>'payer', closed_at = now(),
                       manufacturer = coalesce(e->>'manufacturer', manufacturer)
        WHERE ticket_id = t.ticket_id;
    FOR u IN SELECT x, n::int AS n FROM jsonb_array_elements(coalesce(e->'parts_used', '[]'))
             WITH ORDINALITY AS p(x, n) ORDER BY n LOOP
        v_sku := u.x->>'sku';
        v_qty := (u.x->>'qty')::int;
        v_line := (u.x->>'line_no')::int;
        CONTINUE WHEN coalesce(v_sku, '') = '' OR coalesce(v_qty, 0) < 1;
        v_left := v_qty;
        v_backordered := false;
        IF v_line IS NOT NULL THEN
            SELECT * INTO r FROM reservations
                WHERE ticket_id = t.ticket_id AND line_no = v_line FOR UPDATE;
            IF FOUND AND r.state = 'backordered' AND r.sku = v_sku THEN
                -- Repaired before the part arrived (found elsewhere in the centre): the line
                -- stops waiting, and its transfer is called off if it has not left.
                v_backordered := true;
                IF r.transfer_id IS NOT NULL THEN
                    FOREACH v_tsku IN ARRAY cancel_transfer(r.transfer_id, 'parts', 'used before arrival') LOOP
                        v_touched := v_touched || (coalesce(setting('warehouse'), '') || '|' || v_tsku);
                    END LOOP;
                END IF;
            ELSIF FOUND AND r.state = 'reserved' AND r.sku = v_sku THEN
                v_take := least(v_qty, r.qty);
                PERFORM lock_stock(r.site, r.sku);
                PERFORM mv(r.site, r.sku, 'issue', -v_take, -v_take, 0,
                           jsonb_build_object('ticket_id', t.ticket_id, 'line_no', r.line_no));
                IF r.qty > v_take THEN
                    PERFORM mv(r.site, r.sku, 'release', 0, v_take - r.qty, 0,
                               jsonb_build_object('ticket_id', t.ticket_id, 'line_no', r.line_no,
                                                  'reason', 'unused'));
                    v_touched := v_touched || (r.site || '|' || r.sku);
                END IF;
                UPDATE reservations SET state = 'issued', issued_qty = v_take, closed_at = now()
                    WHERE ticket_id = r.ticket_id AND line_no = r.line_no;
                v_issued := v_issued || jsonb_build_object('line_no', r.line_no, 'sku', r.sku,
                                                           'qty', v_take);
                v_left := v_qty - v_take;
            END IF;
        END IF;
        IF v_left > 0 AND EXISTS (SELECT 1 FROM skus WHERE sku = v_sku) THEN
            -- Not (or not fully) reserved: draw from the centre's free stock if it is there.
            s := lock_stock(t.center, v_sku);
            v_take := least(v_left, s.available);
            IF v_take > 0 THEN
                PERFORM mv(t.center, v_sku, 'issue', -v_take, 0, 0,
                           jsonb_build_object('ticket_id', t.ticket_id, 'line_no', v_line,
                                              'note', 'issued without a reservation'));
                v_issued := v_issued || jsonb_strip_nulls(jsonb_build_object(
                    'line_no', v_line, 'sku', v_sku, 'qty', v_take));
                v_left := v_left - v_take;
            END IF;
        END IF;
        IF v_backordered THEN
            UPDATE reservations
                SET state = CASE WHEN v_qty > v_left THEN 'issued' ELSE 'cancelled' END,
                    issued_qty = CASE WHEN v_qty > v_left THEN v_qty - v_left END, closed_at = now()
                WHERE ticket_id = t.ticket_id AND line_no = v_line;
        END IF;
        IF v_left > 0 THEN
            -- Used but not in our stock (brought in from outside): nothing to draw; say so.
            v_short := v_short || jsonb_strip_nulls(jsonb_build_object(
                'line_no', v_line, 'sku', v_sku, 'qty', v_left));
        END IF;
        IF v_warranty AND EXISTS (SELECT 1 FROM skus WHERE sku = v_sku AND defective_return_required) THEN
            INSERT INTO defective_returns(ticket_id, part_no, line_no, sku, qty, site, manufacturer,
                                          due_date)
                VALUES (t.ticket_id, u.n, v_line, v_sku, v_qty, t.center,
                        coalesce(e->>'manufacturer', t.manufacturer),
                        v_done + setting('defective_return_days')::int)
                ON CONFLICT DO NOTHING
                RETURNING * INTO d;
            IF FOUND THEN
                PERFORM emit('parts', 'parts.DefectiveReturnOwed', jsonb_build_object(
                    'return_id', d.id, 'ticket_id', d.ticket_id, 'line_no', d.line_no,
                    'sku', d.sku, 'qty', d.qty, 'site', d.site, 'manufacturer', d.manufacturer,
                    'due_date', d.due_date::text));
                PERFORM audit_write(svc_principal(), NULL, 'owe', 'defective_return', d.id,
                                    jsonb_build_object('ticket_id', d.ticket_id, 'sku', d.sku,
                                                       'due_date', d.due_date));
            END IF;
        END IF;
    END LOOP;
    SELECT c.touched, c.released INTO v_touched, v_released
        FROM close_open_lines(t, 'unused', v_touched) c;
    IF jsonb_array_length(v_issued) > 0 THEN
        PERFORM emit('parts', 'parts.PartsIssued', jsonb_build_object(
            'ticket_id', t.ticket_id, 'site', t.center, 'lines', v_issued));
    END IF;
    IF jsonb_array_length(v_released) > 0 THEN
        PERFORM emit('parts', 'parts.PartsReleased', jsonb_build_object(
            'ticket_id', t.ticket_id, 'site', t.center, 'lines', v_released, 'reason', 'unused'));
    END IF;
    PERFORM audit_write(svc_principal(), NULL, 'complete', 'ticket', t.ticket_id,
                        jsonb_strip_nulls(jsonb_build_object(
                            'issued', v_issued, 'released', v_released, 'payer', e->>'payer',
                            'not_in_stock', CASE WHEN jsonb_array_length(v_short) > 0 THEN v_short END)));
    PERFORM serve_touched(v_touched);
END $$;

-- intake.TicketCancelled: release the ticket's reservations and cancel its backorders.
CREATE OR REPLACE FUNCTION on_ticket_cancelled(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    v_touched text[] := '{}';
    v_released jsonb;
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN;
    END IF;
    t := ensure_ticket(e);
    IF t.state <> 'open' THEN
        RETURN;
    END IF;
    UPDATE tickets SET state = 'cancelled', closed_at = now() WHERE ticket_id = t.ticket_id;
    SELECT c.touched, c.released INTO v_touched, v_released
        FROM close_open_lines(t, 'cancelled', v_touched) c;
    IF jsonb_array_length(v_released) > 0 THEN
        PERFORM emit('parts', 'parts.PartsReleased', jsonb_build_object(
            'ticket_id', t.ticket_id, 'site', t.center, 'lines', v_released,
            'reason', 'cancelled'));
    END IF;
    PERFORM audit_write(svc_principal(), NULL, 'cancel', 'ticket', t.ticket_id,
                        jsonb_build_object('released', v_released, 'reason', e->>'reason'));
    PERFORM serve_touched(v_touched);
END $$;

CREATE OR REPLACE FUNCTION dispatch_intake_event(p_type text, e jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    CASE p_type
    WHEN 'intake.PartsRequested' THEN PERFORM on_parts_requested(e);
    WHEN 'intake.RepairCompleted' THEN PERFORM on_repair_completed(e);
    WHEN 'intake.TicketCancelled' THEN
        PERFORM on_ticket_cancelled(e);
        PERFORM on_intake_ticket_ended(e);
    WHEN 'intake.TicketOpened' THEN PERFORM on_intake_ticket_opened(e);
    WHEN 'intake.TicketClosed' THEN PERFORM on_intake_ticket_ended(e);
    WHEN 'intake.ServiceOrderChanged' THEN PERFORM on_service_order_changed(e);
    ELSE RETURN false;
    END CASE;
    RETURN true;
END $$;

-- The consumer's entry point for intake's stream: apply event (type, payload) at sequence seq.
CREATE OR REPLACE FUNCTION apply_intake_event(p_type text, e jsonb, p_seq bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_msg text;
    v_detail text;
BEGIN
    PERFORM dispatch_intake_event(p_type, e);
EXCEPTION WHEN data_exception OR integrity_constraint_violation OR SQLSTATE 'AS409'
               OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL;
    v_msg := concat_ws(': ', v_msg, nullif(v_detail, ''));
    INSERT INTO event_failures(stream, seq, type, payload, sqlstate, error)
        VALUES ('intake', p_seq, p_type, e, v_state, v_msg)
        ON CONFLICT (stream, seq) DO NOTHING;
    PERFORM audit_write(svc_principal(), NULL, 'event_failed', 'event', 'intake/' || p_seq,
                        jsonb_build_object('type', p_type, 'sqlstate', v_state, 'error', v_msg));
END $$;

-- After fixing the cause, apply a set-aside event again (an operator's tool).
CREATE OR REPLACE FUNCTION retry_event_failure(p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    f event_failures;
BEGIN
    SELECT * INTO f FROM event_failures WHERE id = p_id AND resolved_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no unresolved event failure %', p_id;
    END IF;
    PERFORM dispatch_intake_event(f.type, f.payload);
    UPDATE event_failures SET resolved_at = now() WHERE id = p_id;
END $$;

CREATE OR REPLACE FUNCTION on_intake_ticket_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO intake_tickets(ticket_id, center, customer_name, customer_phone)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), nullif(e#>>'{customer,name}', ''),
                nullif(e#>>'{customer,phone}', ''))
        ON CONFLICT (ticket_id) DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION on_intake_ticket_ended(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_unit text := nullif(e->>'loaner_unit', '');
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO intake_tickets(ticket_id, center, ended_at)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), now())
        ON CONFLICT (ticket_id) DO UPDATE SET ended_at = coalesce(intake_tickets.ended_at, now());
    -- The hand-back returned the loaner (intake checked it is the unit the ticket holds).
    IF v_unit IS NOT NULL AND EXISTS (SELECT 1 FROM loans WHERE serial = v_unit
                                      AND ticket_id = e->>'ticket_id' AND returned_at IS NULL) THEN
        PERFORM loaner_take_back(v_unit, 'intake', 'returned at hand-back', NULL);
        PERFORM audit_write(svc_principal(), NULL, 'take_back', 'loaner', v_unit,
                            jsonb_build_object('ticket_id', e->>'ticket_id', 'at', 'hand-back'));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO sites(code, name, kind, region)
    VALUES (e->'center'->>'code', coalesce(e->'center'->>'name', e->'center'->>'code'), 'center',
            e->'center'->>'region')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region
        WHERE sites.kind = 'center';
$$;
