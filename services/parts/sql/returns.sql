-- parts: returns functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION return_status(d defective_returns) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.status = 'returned' THEN 'returned'
                WHEN d.due_date < business_today() THEN 'overdue'
                ELSE 'owed' END
$$;

CREATE OR REPLACE FUNCTION return_json(d defective_returns) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', d.id, 'ticket_id', d.ticket_id, 'line_no', d.line_no, 'sku', d.sku, 'qty', d.qty,
        'site', d.site, 'manufacturer', d.manufacturer, 'status', return_status(d),
        'due_date', d.due_date::text, 'created_at', ts(d.created_at),
        'returned_at', ts(d.returned_at), 'received_by', d.received_by,
        'received_site', d.received_site, 'note', d.note))
$$;

CREATE OR REPLACE FUNCTION return_visible(p jsonb, d defective_returns) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p->>'role' IN ('finance', 'reviewer') OR may_read(p, d.site)
$$;

CREATE OR REPLACE FUNCTION cmd_list_returns(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION cmd_receive_return(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
