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

-- ---- small helpers ----

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

-- Belt and braces: the owner gives up the privileges too (triggers still apply to superusers).
REVOKE UPDATE, DELETE, TRUNCATE ON movements FROM CURRENT_USER;

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

-- ---- the invariants, as queries ----

CREATE VIEW ledger_totals AS
    SELECT site, sku, sum(d_on_hand)::int AS on_hand, sum(d_reserved)::int AS reserved,
           sum(d_defective)::int AS defective, count(*) AS movements, max(id) AS last_id
    FROM movements GROUP BY site, sku;

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

-- ---- allocation: ticket lines and transfers, first come first served ----

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

