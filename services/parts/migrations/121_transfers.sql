-- parts: transfers that keep their promises.
--
-- Arrival: only the destination confirms that a transfer arrived (or an admin; the warehouse
-- confirms arrivals at the warehouse, not at a centre). The receipt may say what really came:
-- per SKU, `qty` units in good condition and `damaged` units; what is neither (missing) or
-- damaged is a discrepancy line of the transfer. Only the good units enter the destination's
-- stock; the value of the rest is written off from "in transit" (parts.StockValued kind
-- transit_loss: settlement posts Dr 6402 / Cr 1406), so stock and value follow what arrived.
--
-- Approval: nobody takes another site's stock silently. A transfer waits in state
-- `pending_approval` (nothing reserved) when
--   * it leaves a centre and the requester is not that centre (nor an admin): the source
--     centre approves;
--   * a centre draws from the warehouse and a line would take the warehouse's available stock
--     below its safety level: the warehouse approves.
-- The source site (or an admin) approves (then it is allocated like any new transfer, or waits
-- for stock) or rejects it (cancelled, with the reason); the requester may withdraw it the same
-- way. Both are audited.

ALTER TABLE transfers DROP CONSTRAINT IF EXISTS transfers_state_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_state_check
    CHECK (state IN ('pending_approval', 'waiting', 'allocated', 'shipped', 'received', 'cancelled'));
ALTER TABLE transfers ADD COLUMN approval_site text;     -- whose approval it needs (or needed)
ALTER TABLE transfers ADD COLUMN approval_reason text;   -- why it needs one
ALTER TABLE transfers ADD COLUMN approved_by text;
ALTER TABLE transfers ADD COLUMN approved_at timestamptz;
ALTER TABLE transfers ADD COLUMN received_by text;

CREATE SEQUENCE discrepancy_no;

-- What arrived differently from what was shipped, per transfer and SKU.
CREATE TABLE transfer_discrepancies (
    id          bigint PRIMARY KEY DEFAULT nextval('discrepancy_no'),
    transfer_id text NOT NULL REFERENCES transfers(id),
    sku         text NOT NULL REFERENCES skus(sku),
    shipped     int NOT NULL CHECK (shipped > 0),
    received    int NOT NULL CHECK (received >= 0),
    damaged     int NOT NULL CHECK (damaged >= 0),
    missing     int NOT NULL CHECK (missing >= 0),
    value_cents bigint NOT NULL CHECK (value_cents >= 0),  -- written off from transit
    note        text,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transfer_id, sku),
    CHECK (received + damaged + missing = shipped AND damaged + missing > 0)
);

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

-- Would the caller's new transfer take another site's stock without asking? The site whose
-- approval it needs and why, or NULL.
CREATE FUNCTION transfer_approval(p_principal jsonb, p_from text, p_lines jsonb,
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

-- May the caller act for site p_site itself (its own site, or an admin)? The warehouse role
-- acts for the warehouse site only.
CREATE FUNCTION acts_for(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' = p_site
        WHEN 'warehouse' THEN EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.kind = 'warehouse')
        ELSE false END
$$;

CREATE FUNCTION cmd_approve_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE FUNCTION cmd_reject_transfer(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

-- The value proof knows about discrepancies: a received transfer holds no value in transit.
-- (value_mismatches() already flags value left on a transfer that is not travelling.)
