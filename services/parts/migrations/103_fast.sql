-- parts: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a FROM clause, a
-- sub-select, a write) are redefined here in PL/pgSQL with the same signature and the same
-- results; those declared IMMUTABLE while their bodies are only STABLE (to_char,
-- jsonb_build_object, to_jsonb) are declared STABLE, and then inline.

-- ---- inlined: declared STABLE, as their bodies are -------------------------------------------

CREATE OR REPLACE FUNCTION ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE OR REPLACE FUNCTION line_json(r reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('line_no', r.line_no, 'sku', r.sku, 'qty', r.qty)
$$;

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

CREATE OR REPLACE FUNCTION reservation_json(r reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', r.ticket_id, 'line_no', r.line_no, 'site', r.site, 'sku', r.sku,
        'qty', r.qty, 'state', r.state, 'transfer_id', r.transfer_id,
        'requested_at', ts(r.requested_at), 'reserved_at', ts(r.reserved_at),
        'closed_at', ts(r.closed_at), 'issued_qty', r.issued_qty, 'note', r.note))
$$;

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

CREATE OR REPLACE FUNCTION sku_json(c skus) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'sku', c.sku, 'name', c.name, 'brand', c.brand, 'manufacturer', c.manufacturer,
        'category', c.category, 'compatible_models', to_jsonb(c.compatible_models),
        'unit_cost_cents', c.unit_cost_cents, 'list_price_cents', c.list_price_cents,
        'currency', c.currency, 'defective_return_required', c.defective_return_required,
        'active', c.active))
$$;

-- ---- PL/pgSQL -----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION setting(p_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT s.value INTO v FROM settings s WHERE s.key = p_key;
    RETURN v;
END $$;

-- A region reads the sites of its region: the only role whose answer needs the sites table.
CREATE OR REPLACE FUNCTION may_read(p jsonb, p_site text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p->>'role' = 'region' THEN
        RETURN EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.region = p->>'region');
    END IF;
    RETURN CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' = p_site
        ELSE false END;
END $$;

-- Every line requested so far for the ticket is reserved (or already issued).
CREATE OR REPLACE FUNCTION ticket_complete(p_ticket text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM reservations r
                       WHERE r.ticket_id = p_ticket AND r.state NOT IN ('reserved', 'issued'));
END $$;

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
        'cancelled_at', ts(t.cancelled_at), 'created_by', t.created_by));
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

CREATE OR REPLACE FUNCTION loaner_json(u loaners) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'serial', u.serial, 'site', u.site, 'sku', u.sku, 'model', u.model, 'state', u.state,
        'ticket_id', l.ticket_id, 'customer', l.customer, 'phone', mask_phone(l.phone),
        'lent_at', ts(l.lent_at), 'lent_by', l.lent_by,
        'days_out', CASE WHEN l.id IS NOT NULL
                         THEN business_today() - (l.lent_at AT TIME ZONE 'Asia/Shanghai')::date END))
    FROM (SELECT 1) one
    LEFT JOIN loans l ON l.serial = u.serial AND l.returned_at IS NULL);
END $$;

CREATE OR REPLACE FUNCTION ledger_ok() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM ledger_mismatches());
END $$;

-- A centre named by an event but unknown here (intake owns the centres): remember it.
CREATE OR REPLACE FUNCTION ensure_site(p_code text, p_region text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sites(code, name, kind, region) VALUES (p_code, p_code, 'center', p_region)
    ON CONFLICT DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION cmd_list_skus(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('skus',
        coalesce((SELECT jsonb_agg(sku_json(c) ORDER BY c.sku) FROM skus c
                  WHERE (a->>'brand' IS NULL OR lower(c.brand) = lower(a->>'brand'))
                    AND (a->>'model' IS NULL OR a->>'model' = ANY (c.compatible_models))
                    AND (a->>'q' IS NULL OR c.sku ILIKE '%' || (a->>'q') || '%'
                         OR c.name ILIKE '%' || (a->>'q') || '%')), '[]')));
END $$;
