-- parts: the catalogue, sites, the stock ledger and its balances, safety stock, reservations
-- per ticket line, transfers between sites, defective returns and loaner units.
--
-- Ledger first. Stock changes only by inserting a row into `movements`; a BEFORE INSERT trigger
-- applies the row's deltas to its balance row (`stock`) in the same statement and records the
-- balance after it. Movements can be neither updated nor deleted; balance rows refuse any
-- change that does not come from that trigger; CHECK constraints make negative on-hand,
-- reserved, available or defective stock impossible; ledger_mismatches() proves at any time
-- that every balance equals the sum of its ledger and that every reserved unit is explained by
-- a ticket line or a transfer.

-- ---- settings (the service writes its configuration here at start) ----

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO settings(key, value) VALUES
    ('warehouse', 'WH01'),
    ('defective_return_days', '15'),
    ('replenishment_window_days', '30'),
    ('default_lead_time_days', '7');

CREATE FUNCTION setting(p_key text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT value FROM settings WHERE key = p_key
$$;

CREATE FUNCTION apply_settings(p jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO settings(key, value) SELECT key, value FROM jsonb_each_text(p)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
$$;

-- ---- small helpers ----

CREATE FUNCTION ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Today's business date (Asia/Shanghai).
CREATE FUNCTION business_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- A timestamp from event text, or NULL when it does not parse (an event must never get stuck).
CREATE FUNCTION try_timestamptz(p text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN p::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Who acts for the event consumers in audit rows.
CREATE FUNCTION svc_principal() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"subject": "parts", "role": "service"}'::jsonb
$$;

CREATE FUNCTION actor(p jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p->>'subject', 'unknown')
$$;

-- ---- reference data: sites and the catalogue ----

CREATE TABLE sites (
    code   text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{2,16}$'),
    name   text NOT NULL,
    kind   text NOT NULL CHECK (kind IN ('warehouse', 'center')),
    region text
);

CREATE TABLE skus (
    sku                       text PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'),
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    brand                     text NOT NULL,
    manufacturer              text,
    category                  text NOT NULL DEFAULT 'part' CHECK (category IN ('part', 'loaner')),
    compatible_models         text[] NOT NULL DEFAULT '{}',
    unit_cost_cents           bigint NOT NULL CHECK (unit_cost_cents >= 0),
    list_price_cents          bigint NOT NULL CHECK (list_price_cents >= 0),
    currency                  text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    defective_return_required boolean NOT NULL DEFAULT false,
    active                    boolean NOT NULL DEFAULT true,
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skus_brand ON skus (brand);

-- ---- scope ----
-- admin and warehouse act on every site; a centre on its own site only; a region reads the
-- sites of its region; the internal service principal acts everywhere.

CREATE FUNCTION may_read(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' = p_site
        WHEN 'region' THEN EXISTS (SELECT 1 FROM sites s WHERE s.code = p_site AND s.region = p->>'region')
        ELSE false END
$$;

CREATE FUNCTION may_write(p jsonb, p_site text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'warehouse' THEN true
        WHEN 'service' THEN true
        WHEN 'center' THEN p->>'site' = p_site
        ELSE false END
$$;

-- A site the caller names explicitly: 422 when it does not exist, 403 when it is out of scope.
CREATE FUNCTION require_site(p jsonb, p_site text, p_write boolean) RETURNS sites
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s sites;
BEGIN
    SELECT * INTO s FROM sites WHERE code = p_site;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_site', format('site %s does not exist', p_site));
    END IF;
    IF p_write AND NOT may_write(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not change stock at site %s', p_site));
    ELSIF NOT p_write AND NOT may_read(p, p_site) THEN
        PERFORM fail(403, 'forbidden', format('you may not see site %s', p_site));
    END IF;
    RETURN s;
END $$;

CREATE FUNCTION require_sku(p_sku text) RETURNS skus
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c skus;
BEGIN
    SELECT * INTO c FROM skus WHERE sku = p_sku;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_sku', format('SKU %s is not in the catalogue', p_sku));
    END IF;
    RETURN c;
END $$;

-- ---- the ledger and the balances ----

CREATE TABLE stock (
    site             text NOT NULL REFERENCES sites(code),
    sku              text NOT NULL REFERENCES skus(sku),
    on_hand          int NOT NULL DEFAULT 0,
    reserved         int NOT NULL DEFAULT 0,
    defective        int NOT NULL DEFAULT 0,
    available        int GENERATED ALWAYS AS (on_hand - reserved) STORED,
    last_movement_id bigint,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, sku),
    CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0),
    CONSTRAINT stock_reserved_not_negative CHECK (reserved >= 0),
    CONSTRAINT stock_available_not_negative CHECK (on_hand - reserved >= 0),
    CONSTRAINT stock_defective_not_negative CHECK (defective >= 0)
);

CREATE TABLE movements (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    site            text NOT NULL REFERENCES sites(code),
    sku             text NOT NULL REFERENCES skus(sku),
    kind            text NOT NULL CHECK (kind IN ('receipt', 'transfer_out', 'transfer_in', 'reserve',
                        'release', 'issue', 'defective_return', 'scrap', 'adjustment')),
    qty             int NOT NULL CHECK (qty > 0),
    d_on_hand       int NOT NULL,
    d_reserved      int NOT NULL,
    d_defective     int NOT NULL DEFAULT 0,
    on_hand_after   int,
    reserved_after  int,
    defective_after int,
    ticket_id       text,
    line_no         int,
    transfer_id     text,
    return_id       text,
    reason          text,
    note            text,
    actor           text NOT NULL DEFAULT 'parts',
    request_id      text,
    -- What each kind may do to the balance (qty is the magnitude).
    CONSTRAINT movement_shape CHECK (CASE kind
        WHEN 'receipt' THEN d_on_hand = qty AND d_reserved = 0 AND d_defective = 0
        WHEN 'transfer_in' THEN d_on_hand = qty AND d_reserved = 0 AND d_defective = 0
        WHEN 'transfer_out' THEN d_on_hand = -qty AND d_reserved IN (0, -qty) AND d_defective = 0
        WHEN 'reserve' THEN d_on_hand = 0 AND d_reserved = qty AND d_defective = 0
        WHEN 'release' THEN d_on_hand = 0 AND d_reserved = -qty AND d_defective = 0
        WHEN 'issue' THEN d_on_hand = -qty AND d_reserved IN (0, -qty) AND d_defective = 0
        WHEN 'defective_return' THEN d_on_hand = 0 AND d_reserved = 0 AND d_defective = qty
        WHEN 'scrap' THEN d_reserved = 0 AND ((d_on_hand = 0 AND d_defective = -qty)
                                           OR (d_on_hand = -qty AND d_defective = 0))
        WHEN 'adjustment' THEN d_on_hand IN (qty, -qty) AND d_reserved = 0 AND d_defective = 0
        END),
    CONSTRAINT movement_reason CHECK (kind NOT IN ('adjustment', 'scrap')
                                      OR length(btrim(coalesce(reason, ''))) > 0),
    CONSTRAINT movement_owner CHECK (kind NOT IN ('reserve', 'release')
                                     OR ticket_id IS NOT NULL OR transfer_id IS NOT NULL)
);
CREATE INDEX movements_site_sku ON movements (site, sku, id);
CREATE INDEX movements_ticket ON movements (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX movements_consumption ON movements (site, sku, at) WHERE kind IN ('issue', 'transfer_out');

-- Safety stock per site x SKU. `below` remembers that StockBelowSafety was published for the
-- current crossing (so it is published once per crossing, not on every movement).
CREATE TABLE stock_policy (
    site           text NOT NULL REFERENCES sites(code),
    sku            text NOT NULL REFERENCES skus(sku),
    safety_level   int NOT NULL CHECK (safety_level >= 0),
    reorder_point  int NOT NULL,
    lead_time_days int NOT NULL DEFAULT 7 CHECK (lead_time_days BETWEEN 0 AND 365),
    below          boolean NOT NULL DEFAULT false,
    crossed_at     timestamptz,
    alerts         int NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, sku),
    CHECK (reorder_point >= safety_level)
);

-- Publish StockBelowSafety when balance s has just fallen below its safety level; re-arm when it
-- is back at or above it.
CREATE FUNCTION safety_watch(s stock) RETURNS void
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
CREATE FUNCTION movement_apply() RETURNS trigger
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
CREATE TRIGGER movement_apply BEFORE INSERT ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_apply();

CREATE FUNCTION movement_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'AS409', MESSAGE = 'immutable',
        DETAIL = 'stock movements are never updated or deleted; post a correcting movement';
END $$;
CREATE TRIGGER movement_no_update BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION movement_immutable();
CREATE TRIGGER movement_no_truncate BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION movement_immutable();
-- Belt and braces: the owner gives up the privileges too (triggers still apply to superusers).
REVOKE UPDATE, DELETE, TRUNCATE ON movements FROM CURRENT_USER;

-- Balance rows are born at zero and change only inside movement_apply().
CREATE FUNCTION stock_guard() RETURNS trigger
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
CREATE TRIGGER stock_guard BEFORE INSERT OR UPDATE OR DELETE ON stock
    FOR EACH ROW EXECUTE FUNCTION stock_guard();
CREATE TRIGGER stock_no_truncate BEFORE TRUNCATE ON stock
    FOR EACH STATEMENT EXECUTE FUNCTION movement_immutable();

-- Post one movement. r carries the references: ticket_id, line_no, transfer_id, return_id,
-- reason, note, actor, request_id.
CREATE FUNCTION mv(p_site text, p_sku text, p_kind text, p_on int, p_res int, p_def int, r jsonb)
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
CREATE FUNCTION lock_stock(p_site text, p_sku text) RETURNS stock
LANGUAGE plpgsql AS $$
DECLARE
    s stock;
BEGIN
    INSERT INTO stock(site, sku) VALUES (p_site, p_sku) ON CONFLICT DO NOTHING;
    SELECT * INTO s FROM stock WHERE site = p_site AND sku = p_sku FOR UPDATE;
    RETURN s;
END $$;

CREATE FUNCTION movement_json(m movements) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', m.id, 'at', ts(m.at), 'site', m.site, 'sku', m.sku, 'kind', m.kind, 'qty', m.qty,
        'on_hand_delta', m.d_on_hand, 'reserved_delta', m.d_reserved,
        'defective_delta', m.d_defective, 'on_hand_after', m.on_hand_after,
        'reserved_after', m.reserved_after, 'defective_after', m.defective_after,
        'ticket_id', m.ticket_id, 'line_no', m.line_no, 'transfer_id', m.transfer_id,
        'return_id', m.return_id, 'reason', m.reason, 'note', m.note, 'actor', m.actor))
$$;

-- ---- tickets and their lines ----

-- The tickets this service has heard of (from intake's events) and where they are for parts.
CREATE TABLE tickets (
    ticket_id    text PRIMARY KEY,
    center       text NOT NULL REFERENCES sites(code),
    region       text,
    brand        text,
    manufacturer text,
    warranty     boolean NOT NULL DEFAULT false,
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed', 'cancelled')),
    payer        text,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);

CREATE SEQUENCE reservation_order;

-- One row per ticket line: at most one reservation per (ticket, line), ever.
CREATE TABLE reservations (
    ticket_id    text NOT NULL REFERENCES tickets(ticket_id),
    line_no      int NOT NULL CHECK (line_no > 0),
    site         text NOT NULL REFERENCES sites(code),
    sku          text NOT NULL,   -- may be outside the catalogue: the line then waits
    qty          int NOT NULL CHECK (qty > 0),
    state        text NOT NULL CHECK (state IN ('reserved', 'backordered', 'issued', 'released',
                                                'cancelled')),
    fifo         bigint NOT NULL DEFAULT nextval('reservation_order'),
    transfer_id  text,
    issued_qty   int CHECK (issued_qty >= 0),
    requested_at timestamptz NOT NULL DEFAULT now(),
    reserved_at  timestamptz,
    closed_at    timestamptz,
    note         text,
    PRIMARY KEY (ticket_id, line_no)
);
CREATE INDEX reservations_backorders ON reservations (site, sku, fifo) WHERE state = 'backordered';
CREATE INDEX reservations_site ON reservations (site, state);

CREATE FUNCTION reservation_json(r reservations) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', r.ticket_id, 'line_no', r.line_no, 'site', r.site, 'sku', r.sku,
        'qty', r.qty, 'state', r.state, 'transfer_id', r.transfer_id,
        'requested_at', ts(r.requested_at), 'reserved_at', ts(r.reserved_at),
        'closed_at', ts(r.closed_at), 'issued_qty', r.issued_qty, 'note', r.note))
$$;

CREATE FUNCTION line_json(r reservations) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('line_no', r.line_no, 'sku', r.sku, 'qty', r.qty)
$$;

-- Every line requested so far for the ticket is reserved (or already issued).
CREATE FUNCTION ticket_complete(p_ticket text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (SELECT 1 FROM reservations
                       WHERE ticket_id = p_ticket AND state NOT IN ('reserved', 'issued'))
$$;

-- ---- transfers ----

CREATE SEQUENCE transfer_no;
CREATE SEQUENCE transfer_order;

CREATE TABLE transfers (
    id           text PRIMARY KEY DEFAULT 'TR' || lpad(nextval('transfer_no')::text, 6, '0'),
    from_site    text NOT NULL REFERENCES sites(code),
    to_site      text NOT NULL REFERENCES sites(code),
    state        text NOT NULL CHECK (state IN ('waiting', 'allocated', 'shipped', 'received',
                                                'cancelled')),
    origin       text NOT NULL CHECK (origin IN ('manual', 'backorder')),
    ticket_id    text,
    line_no      int,
    note         text,
    fifo         bigint NOT NULL DEFAULT nextval('transfer_order'),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    allocated_at timestamptz,
    shipped_at   timestamptz,
    received_at  timestamptz,
    cancelled_at timestamptz,
    CHECK (from_site <> to_site),
    CHECK (origin = 'manual' OR (ticket_id IS NOT NULL AND line_no IS NOT NULL))
);
CREATE UNIQUE INDEX transfers_backorder_line ON transfers (ticket_id, line_no) WHERE origin = 'backorder';
CREATE INDEX transfers_waiting ON transfers (from_site, fifo) WHERE state = 'waiting';
CREATE INDEX transfers_to ON transfers (to_site, state);

CREATE TABLE transfer_lines (
    transfer_id text NOT NULL REFERENCES transfers(id),
    line_no     int NOT NULL CHECK (line_no > 0),
    sku         text NOT NULL REFERENCES skus(sku),
    qty         int NOT NULL CHECK (qty > 0),
    PRIMARY KEY (transfer_id, line_no),
    UNIQUE (transfer_id, sku)
);
CREATE INDEX transfer_lines_sku ON transfer_lines (sku);

CREATE FUNCTION transfer_json(t transfers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'from', t.from_site, 'to', t.to_site, 'state', t.state,
        'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('line_no', l.line_no, 'sku', l.sku,
                                                               'qty', l.qty) ORDER BY l.line_no), '[]')
                  FROM transfer_lines l WHERE l.transfer_id = t.id),
        'origin', t.origin, 'ticket_id', t.ticket_id, 'line_no', t.line_no, 'note', t.note,
        'created_at', ts(t.created_at), 'allocated_at', ts(t.allocated_at),
        'shipped_at', ts(t.shipped_at), 'received_at', ts(t.received_at),
        'cancelled_at', ts(t.cancelled_at), 'created_by', t.created_by))
$$;

-- ---- the invariants, as queries ----

CREATE VIEW ledger_totals AS
    SELECT site, sku, sum(d_on_hand)::int AS on_hand, sum(d_reserved)::int AS reserved,
           sum(d_defective)::int AS defective, count(*) AS movements, max(id) AS last_id
    FROM movements GROUP BY site, sku;

-- Every way a balance could disagree with the ledger or with what holds its reserved units.
-- Empty means: balance = sum(ledger) for every site x SKU, the balance row saw the last
-- movement, and reserved = reserved ticket lines + allocated transfers leaving the site.
CREATE FUNCTION ledger_mismatches()
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

CREATE VIEW ledger_check AS SELECT * FROM ledger_mismatches();

CREATE FUNCTION ledger_ok() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (SELECT 1 FROM ledger_mismatches())
$$;

-- ---- what a site holds, owes and expects ----

CREATE VIEW stock_view AS
    WITH keys AS (SELECT site, sku FROM stock UNION SELECT site, sku FROM stock_policy),
    inbound AS (
        SELECT t.to_site AS site, l.sku, sum(l.qty)::int AS qty
        FROM transfers t JOIN transfer_lines l ON l.transfer_id = t.id
        WHERE t.state IN ('waiting', 'allocated', 'shipped') GROUP BY 1, 2),
    waiting_out AS (
        SELECT t.from_site AS site, l.sku, sum(l.qty)::int AS qty
        FROM transfers t JOIN transfer_lines l ON l.transfer_id = t.id
        WHERE t.state = 'waiting' GROUP BY 1, 2),
    back AS (
        SELECT site, sku, sum(qty)::int AS qty FROM reservations
        WHERE state = 'backordered' GROUP BY 1, 2)
    SELECT k.site, k.sku, c.name, c.unit_cost_cents, c.currency,
           coalesce(s.on_hand, 0) AS on_hand, coalesce(s.reserved, 0) AS reserved,
           coalesce(s.available, 0) AS available, coalesce(s.defective, 0) AS defective,
           p.safety_level, p.reorder_point, p.lead_time_days, coalesce(p.below, false) AS below_safety,
           coalesce(i.qty, 0) AS inbound, coalesce(b.qty, 0) AS backordered,
           coalesce(w.qty, 0) AS waiting_out, s.last_movement_id
    FROM keys k
    JOIN skus c ON c.sku = k.sku
    LEFT JOIN stock s ON s.site = k.site AND s.sku = k.sku
    LEFT JOIN stock_policy p ON p.site = k.site AND p.sku = k.sku
    LEFT JOIN inbound i ON i.site = k.site AND i.sku = k.sku
    LEFT JOIN waiting_out w ON w.site = k.site AND w.sku = k.sku
    LEFT JOIN back b ON b.site = k.site AND b.sku = k.sku;

CREATE FUNCTION stock_item_json(v stock_view) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'site', v.site, 'sku', v.sku, 'name', v.name, 'on_hand', v.on_hand,
        'reserved', v.reserved, 'available', v.available, 'defective', v.defective,
        'safety_level', v.safety_level, 'reorder_point', v.reorder_point,
        'lead_time_days', v.lead_time_days, 'below_safety', v.below_safety,
        'inbound', v.inbound, 'backordered', v.backordered,
        'last_movement_id', v.last_movement_id))
$$;

-- ---- allocation: ticket lines and transfers, first come first served ----

-- Reserve line r (state backordered) at its site if the stock is there and no older backorder
-- waits for the same SKU at that site. The balance row is locked first, so two transactions
-- racing for the last unit serialise here and the second sees what the first took.
CREATE FUNCTION try_reserve(r reservations) RETURNS boolean
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

CREATE FUNCTION emit_reserved(p_ticket text, p_site text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('parts', 'parts.PartsReserved', jsonb_build_object(
        'ticket_id', p_ticket, 'site', p_site, 'lines', p_lines,
        'complete', ticket_complete(p_ticket)));
    PERFORM audit_write(svc_principal(), NULL, 'reserve', 'ticket', p_ticket,
                        jsonb_build_object('site', p_site, 'lines', p_lines));
END $$;

-- Stock of (site, sku) became available: reserve backordered lines there in request order,
-- stopping at the first one that does not fit (strict FIFO: a big old request is not starved
-- by small new ones), and publish PartsReserved per ticket. Returns the number of lines filled.
CREATE FUNCTION fill_backorders(p_site text, p_sku text) RETURNS int
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
CREATE FUNCTION try_allocate(p_id text) RETURNS boolean
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
CREATE FUNCTION allocate_waiting(p_site text, p_sku text) RETURNS int
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

-- Available stock of (site, sku) grew: serve ticket lines first, then transfers.
CREATE FUNCTION stock_increased(p_site text, p_sku text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fill_backorders(p_site, p_sku);
    PERFORM allocate_waiting(p_site, p_sku);
END $$;

-- A backordered line at a centre asks the warehouse for the part: a transfer of its own,
-- allocated at once when the warehouse has the stock (and nobody older is waiting for it).
CREATE FUNCTION backorder_transfer(r reservations) RETURNS text
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
CREATE FUNCTION cancel_transfer(p_id text, p_actor text, p_reason text) RETURNS text[]
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

-- ---- defective returns ----

CREATE SEQUENCE return_no;

CREATE TABLE defective_returns (
    id            text PRIMARY KEY DEFAULT 'DR' || lpad(nextval('return_no')::text, 6, '0'),
    ticket_id     text NOT NULL,
    part_no       int NOT NULL,     -- position in the repair's parts_used
    line_no       int,              -- the ticket line, when the part was reserved for one
    sku           text NOT NULL REFERENCES skus(sku),
    qty           int NOT NULL CHECK (qty > 0),
    site          text NOT NULL REFERENCES sites(code),
    manufacturer  text,
    status        text NOT NULL DEFAULT 'owed' CHECK (status IN ('owed', 'returned')),
    due_date      date NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    returned_at   timestamptz,
    received_by   text,
    received_site text REFERENCES sites(code),
    note          text,
    UNIQUE (ticket_id, part_no),
    CHECK ((status = 'returned') = (returned_at IS NOT NULL))
);
CREATE INDEX defective_returns_open ON defective_returns (due_date) WHERE status = 'owed';
CREATE INDEX defective_returns_site ON defective_returns (site, status);

CREATE FUNCTION return_status(d defective_returns) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.status = 'returned' THEN 'returned'
                WHEN d.due_date < business_today() THEN 'overdue'
                ELSE 'owed' END
$$;

CREATE FUNCTION return_json(d defective_returns) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', d.id, 'ticket_id', d.ticket_id, 'line_no', d.line_no, 'sku', d.sku, 'qty', d.qty,
        'site', d.site, 'manufacturer', d.manufacturer, 'status', return_status(d),
        'due_date', d.due_date::text, 'created_at', ts(d.created_at),
        'returned_at', ts(d.returned_at), 'received_by', d.received_by,
        'received_site', d.received_site, 'note', d.note))
$$;

-- ---- loaner units (备机): serialised, one row per unit, with the history of its loans ----

CREATE TABLE loaners (
    serial     text PRIMARY KEY CHECK (serial ~ '^[A-Za-z0-9][A-Za-z0-9-]{2,39}$'),
    site       text NOT NULL REFERENCES sites(code),
    sku        text REFERENCES skus(sku),
    model      text NOT NULL,
    state      text NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'lent', 'retired')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE loans (
    id          bigserial PRIMARY KEY,
    serial      text NOT NULL REFERENCES loaners(serial),
    ticket_id   text NOT NULL,
    customer    text NOT NULL,
    phone       text,
    lent_at     timestamptz NOT NULL DEFAULT now(),
    lent_by     text NOT NULL,
    returned_at timestamptz,
    returned_by text,
    note        text
);
-- A unit is with one customer at a time; a ticket holds at most one unit at a time.
CREATE UNIQUE INDEX loans_open_serial ON loans (serial) WHERE returned_at IS NULL;
CREATE UNIQUE INDEX loans_open_ticket ON loans (ticket_id) WHERE returned_at IS NULL;

CREATE FUNCTION loaner_json(u loaners) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'serial', u.serial, 'site', u.site, 'sku', u.sku, 'model', u.model, 'state', u.state,
        'ticket_id', l.ticket_id, 'customer', l.customer, 'phone', mask_phone(l.phone),
        'lent_at', ts(l.lent_at), 'lent_by', l.lent_by,
        'days_out', CASE WHEN l.id IS NOT NULL
                         THEN business_today() - (l.lent_at AT TIME ZONE 'Asia/Shanghai')::date END))
    FROM (SELECT 1) one
    LEFT JOIN loans l ON l.serial = u.serial AND l.returned_at IS NULL
$$;

CREATE FUNCTION sku_json(c skus) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'sku', c.sku, 'name', c.name, 'brand', c.brand, 'manufacturer', c.manufacturer,
        'category', c.category, 'compatible_models', to_jsonb(c.compatible_models),
        'unit_cost_cents', c.unit_cost_cents, 'list_price_cents', c.list_price_cents,
        'currency', c.currency, 'defective_return_required', c.defective_return_required,
        'active', c.active))
$$;
