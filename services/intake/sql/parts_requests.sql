-- intake: parts_requests functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION cmd_request_parts(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_next int;
    v_lines jsonb;
BEGIN
    IF t.state NOT IN ('in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'a parts request', 'in_repair or awaiting_parts');
    END IF;
    PERFORM check_skus(a->'parts', 'parts');
    v_next := coalesce(jsonb_array_length(t.work->'requested'), 0);
    SELECT jsonb_agg(jsonb_build_object('line_no', v_next + n, 'sku', l->>'sku',
                                        'qty', (l->>'qty')::int, 'status', 'requested') ORDER BY n)
        INTO v_lines FROM jsonb_array_elements(a->'parts') WITH ORDINALITY AS x(l, n);
    t := move(t, 'awaiting_parts', 'parts_requested', p_principal, p_req, a->>'note',
              t.work || jsonb_build_object('requested', coalesce(t.work->'requested', '[]') || v_lines));
    PERFORM emit('intake', 'intake.PartsRequested', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'brand', t.device->>'brand',
        'manufacturer', t.manufacturer,
        'lines', (SELECT jsonb_agg(l - 'status') FROM jsonb_array_elements(v_lines) l),
        'warranty', NOT coalesce((t.work->>'paid')::boolean, true)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- A requested line's status only moves forward: requested → backordered → reserved → issued or
-- released. An event delivered again (a replayed stream) after a later one must not take a
-- line back (a PartsReserved replayed after PartsIssued set 'reserved' again, and the replayed
-- PartsIssued set 'issued' back, touching updated_at: found by the fault suite's replay).
CREATE OR REPLACE FUNCTION line_status_rank(p_status text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_status WHEN 'requested' THEN 0 WHEN 'backordered' THEN 1 WHEN 'reserved' THEN 2
                         WHEN 'issued' THEN 3 WHEN 'released' THEN 3 ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION mark_lines(p_ticket text, p_lines jsonb, p_status text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    UPDATE tickets SET work = jsonb_set(work, '{requested}', (
        SELECT coalesce(jsonb_agg(CASE WHEN EXISTS (
                   SELECT 1 FROM jsonb_array_elements(p_lines) x
                   WHERE (x->>'line_no')::int = (r->>'line_no')::int)
                   AND line_status_rank(p_status) > line_status_rank(r->>'status')
               THEN jsonb_set(r, '{status}', to_jsonb(p_status)) ELSE r END ORDER BY (r->>'line_no')::int), '[]')
        FROM jsonb_array_elements(coalesce(work->'requested', '[]')) r)), updated_at = now()
    WHERE id = p_ticket
      AND EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(work->'requested', '[]')) r
                  JOIN jsonb_array_elements(p_lines) x ON (x->>'line_no')::int = (r->>'line_no')::int
                  WHERE line_status_rank(p_status) > line_status_rank(r->>'status'))
    RETURNING * INTO t;
    IF t.id IS NULL THEN
        SELECT * INTO t FROM tickets WHERE id = p_ticket; -- nothing changes: a delivery seen before
    END IF;
    RETURN t;
END $$;

-- Number p_parts after the ticket's requested lines, add them to work.requested and publish
-- PartsRequested. Returns the ticket with the new lines (its state unchanged).
CREATE OR REPLACE FUNCTION request_lines(t tickets, p_parts jsonb, p_req text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    v_next int := coalesce(jsonb_array_length(t.work->'requested'), 0);
    v_lines jsonb;
    r tickets;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('line_no', v_next + n, 'sku', l->>'sku',
                                        'qty', (l->>'qty')::int, 'status', 'requested') ORDER BY n)
        INTO v_lines FROM jsonb_array_elements(p_parts) WITH ORDINALITY AS x(l, n);
    IF v_lines IS NULL THEN
        RETURN t;
    END IF;
    UPDATE tickets SET work = work || jsonb_build_object('requested', coalesce(work->'requested', '[]') || v_lines),
                       updated_at = now()
        WHERE id = t.id RETURNING * INTO r;
    PERFORM emit('intake', 'intake.PartsRequested', jsonb_build_object(
        'ticket_id', r.id, 'center', r.center, 'region', r.region, 'brand', r.device->>'brand',
        'manufacturer', r.manufacturer,
        'lines', (SELECT jsonb_agg(l - 'status') FROM jsonb_array_elements(v_lines) l),
        'warranty', NOT coalesce((r.work->>'paid')::boolean, true)), p_req);
    RETURN r;
END $$;

-- Reference data checked at the door: every SKU of p_parts (a diagnosis's parts, a parts
-- request, the parts a repair used) must be in intake's copy of the parts catalogue
-- (part_skus, kept from parts.SkuChanged). The first unknown one is a 422 naming the field and
-- pointing to the catalogue; nothing changes.
CREATE OR REPLACE FUNCTION check_skus(p_parts jsonb, p_field text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT n - 1 AS i, l->>'sku' AS sku INTO v_bad
        FROM jsonb_array_elements(coalesce(p_parts, '[]')) WITH ORDINALITY AS x(l, n)
        WHERE NOT EXISTS (SELECT 1 FROM part_skus s WHERE s.sku = l->>'sku')
        ORDER BY n LIMIT 1;
    IF FOUND THEN
        PERFORM fail(422, 'unknown_sku',
                     format('%s[%s].sku: %s is not in the parts catalogue (the allowed values: GET /v1/parts/skus)',
                            p_field, v_bad.i, v_bad.sku));
    END IF;
END $$;
