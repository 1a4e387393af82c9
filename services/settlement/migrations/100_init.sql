-- settlement: rate tables, charges per ticket, customer invoices, manufacturer claims, the
-- double-entry ledger with accounting periods, and the reads behind the finance export and the
-- cost analysis. The runtime objects (commands, outbox, consumer offsets, audit) come from
-- common/sql. Everything that changes state is a function here; the C service validates input
-- and calls them (commands through exec_command, events in the consumer's transaction).
--
-- Lock order: a transaction takes what it needs in this order, so two of them never deadlock:
-- invoice counter row -> claim row -> period row (shared) -> ledger_head -> outbox stream (emit).

-- =============================================================================================
-- Helpers
-- =============================================================================================

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO settings VALUES ('currency', 'CNY');

-- Events that could not be applied (missing or malformed fields). The stream moves on; finance
-- looks here (and in the audit) for what needs a human.
CREATE TABLE event_rejects (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL,
    ticket_id text,
    reason    text NOT NULL,
    payload   jsonb NOT NULL
);

-- =============================================================================================
-- Rate tables (effective-dated: a row is in force from effective_from until a later row of the
-- same key replaces it; '*' in category or manufacturer matches any, a specific row wins)
-- =============================================================================================

-- VAT on customer charges, in basis points (1300 = 13 %).
CREATE TABLE vat_rates (
    effective_from date PRIMARY KEY,
    rate_bp        int NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000)
);
INSERT INTO vat_rates VALUES ('2000-01-01', 1300);

-- Labour (工时费) by labour code x product category x manufacturer. The amount is
-- flat + per_hour x minutes / 60; `list` prices are charged to customers, `claim` prices to
-- manufacturers (and used for goodwill work the company bears).
CREATE TABLE labour_rates (
    labour_code      text NOT NULL CHECK (length(labour_code) BETWEEN 1 AND 64),
    category         text NOT NULL DEFAULT '*',
    manufacturer     text NOT NULL DEFAULT '*',
    effective_from   date NOT NULL,
    description      text NOT NULL,
    list_flat_cents  bigint NOT NULL DEFAULT 0 CHECK (list_flat_cents >= 0),
    list_hour_cents  bigint NOT NULL DEFAULT 0 CHECK (list_hour_cents >= 0),
    claim_flat_cents bigint NOT NULL DEFAULT 0 CHECK (claim_flat_cents >= 0),
    claim_hour_cents bigint NOT NULL DEFAULT 0 CHECK (claim_hour_cents >= 0),
    PRIMARY KEY (labour_code, category, manufacturer, effective_from)
);

-- Parts price list: list price (customers) and cost (claims at cost plus handling, goodwill at
-- cost, and the cost of parts consumed). `return_required`: the manufacturer wants the defective
-- part back before it pays the claim line. `warranty_covered`: false for parts a manufacturer
-- never reimburses (consumables); on warranty work the company bears them at cost.
CREATE TABLE parts_prices (
    sku              text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    effective_from   date NOT NULL,
    description      text NOT NULL,
    manufacturer     text,
    list_cents       bigint NOT NULL CHECK (list_cents >= 0),
    cost_cents       bigint NOT NULL CHECK (cost_cents >= 0),
    return_required  boolean NOT NULL DEFAULT false,
    warranty_covered boolean NOT NULL DEFAULT true,
    PRIMARY KEY (sku, effective_from)
);

-- Handling surcharge on parts claimed from a manufacturer, in basis points of cost.
CREATE TABLE claim_handling (
    manufacturer   text NOT NULL DEFAULT '*',
    effective_from date NOT NULL,
    handling_bp    int NOT NULL CHECK (handling_bp BETWEEN 0 AND 100000),
    PRIMARY KEY (manufacturer, effective_from)
);

-- Service and travel fees. `applies`: always, or only for customer visits (cause
-- customer_visit). A NULL price means the fee is not charged to that kind of payer; a row with
-- active = false withdraws the fee from its date.
CREATE TABLE fee_rates (
    fee_code       text NOT NULL CHECK (length(fee_code) BETWEEN 1 AND 64),
    category       text NOT NULL DEFAULT '*',
    manufacturer   text NOT NULL DEFAULT '*',
    effective_from date NOT NULL,
    description    text NOT NULL,
    applies        text NOT NULL DEFAULT 'always' CHECK (applies IN ('always', 'visit')),
    list_cents     bigint CHECK (list_cents >= 0),
    claim_cents    bigint CHECK (claim_cents >= 0),
    active         boolean NOT NULL DEFAULT true,
    PRIMARY KEY (fee_code, category, manufacturer, effective_from)
);

-- =============================================================================================
-- Ledger: chart of accounts, accounting periods, journal entries and lines
-- =============================================================================================

CREATE TABLE accounts (
    code text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('asset', 'liability', 'revenue', 'expense'))
);
INSERT INTO accounts VALUES
    ('1001', 'Cash and bank 银行存款', 'asset'),
    ('1122', 'Customer receivables 应收账款-客户', 'asset'),
    ('1123', 'Manufacturer receivables 应收账款-厂家', 'asset'),
    ('1124', 'Warranty claims not yet approved 保修索赔-待审', 'asset'),
    ('1405', 'Parts inventory 备件库存', 'asset'),
    ('2221', 'VAT output 应交增值税-销项', 'liability'),
    ('2241', 'Refunds payable (seller account) 应付退款-销售者', 'liability'),
    ('6001', 'Service revenue 维修服务收入', 'revenue'),
    ('6051', 'Parts revenue 备件收入', 'revenue'),
    ('6401', 'Parts cost 备件成本', 'expense'),
    ('6601', 'Goodwill repairs (company) 公司承担维修费', 'expense'),
    ('6602', 'Manufacturer claims written off 索赔核销', 'expense'),
    ('6603', 'Refunds and exchanges (seller) 退换货损失', 'expense');

CREATE TABLE periods (
    period    text PRIMARY KEY CHECK (coalesce(period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$', false)), -- as is_period()
    state     text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    closed_at timestamptz,
    closed_by text,
    CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);

-- The ledger's entry counter. Every posting increments it under the row lock, which it holds
-- until commit: entries therefore commit in number order, without gaps, and "everything after
-- entry N" is a safe incremental export cursor.
CREATE TABLE ledger_head (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_no bigint NOT NULL DEFAULT 0 CHECK (last_no >= 0)
);
INSERT INTO ledger_head DEFAULT VALUES;

CREATE TABLE journal_entries (
    entry_no       bigint PRIMARY KEY CHECK (entry_no > 0),
    source_key     text NOT NULL UNIQUE,  -- what caused it: "charge:T…", "claim-payment:CLM-…"
    kind           text NOT NULL CHECK (kind IN ('charge', 'customer_payment', 'seller_refund',
                                                 'claim_decision', 'claim_payment', 'reversal')),
    business_date  date NOT NULL,          -- when it happened
    posting_date   date NOT NULL,          -- when it is booked: the business date, or the first
    posting_period text NOT NULL REFERENCES periods(period), -- day of the next open period
    currency       text NOT NULL,
    memo           text,
    ticket_id      text,
    invoice_no     text,
    claim_id       text,
    reverses       bigint UNIQUE REFERENCES journal_entries(entry_no),
    request_id     text,
    principal      jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (posting_date >= business_date),
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
CREATE INDEX journal_entries_posting ON journal_entries (posting_date, entry_no);
CREATE INDEX journal_entries_ticket ON journal_entries (ticket_id);
CREATE INDEX journal_entries_period ON journal_entries (posting_period);

CREATE TABLE journal_lines (
    entry_no     bigint NOT NULL REFERENCES journal_entries(entry_no),
    line_no      int NOT NULL CHECK (line_no > 0),
    account      text NOT NULL REFERENCES accounts(code),
    debit_cents  bigint NOT NULL DEFAULT 0 CHECK (debit_cents >= 0),
    credit_cents bigint NOT NULL DEFAULT 0 CHECK (credit_cents >= 0),
    ticket_id    text,
    center       text,
    region       text,
    manufacturer text,
    payer        text,
    PRIMARY KEY (entry_no, line_no),
    CHECK ((debit_cents > 0) <> (credit_cents > 0))  -- exactly one side, never zero
);

-- =============================================================================================
-- Charges, invoices
-- =============================================================================================

CREATE TABLE charge_sets (
    ticket_id          text PRIMARY KEY CHECK (length(ticket_id) BETWEEN 1 AND 64),
    kind               text NOT NULL CHECK (kind IN ('repair', 'refunded', 'exchanged', 'declined')),
    center             text NOT NULL,
    region             text,
    category           text,
    brand              text,
    manufacturer       text,
    payer              text NOT NULL CHECK (payer IN ('customer', 'manufacturer', 'company',
                                                      'seller', 'none')),
    warranty_status    text,
    remedy             text,
    cause              text NOT NULL DEFAULT 'other' CHECK (cause IN ('service_station',
                           'customer_visit', 'design_quality', 'manufacturing_quality',
                           'parts_problem', 'other')),
    fault_code         text,
    labour_code        text,
    labour_minutes     int,
    business_date      date NOT NULL,
    currency           text NOT NULL,
    customer_cents     bigint NOT NULL DEFAULT 0 CHECK (customer_cents >= 0),
    manufacturer_cents bigint NOT NULL DEFAULT 0 CHECK (manufacturer_cents >= 0),
    company_cents      bigint NOT NULL DEFAULT 0 CHECK (company_cents >= 0),
    seller_cents       bigint NOT NULL DEFAULT 0 CHECK (seller_cents >= 0),
    vat_cents          bigint NOT NULL DEFAULT 0 CHECK (vat_cents >= 0),
    vat_rate_bp        int,
    invoice_no         text UNIQUE,
    incomplete         boolean NOT NULL DEFAULT false,
    notes              text[] NOT NULL DEFAULT '{}',
    closed_outcome     text,
    closed_date        date,
    source             jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charge_sets_date ON charge_sets (business_date);

CREATE TABLE charge_lines (
    ticket_id    text NOT NULL REFERENCES charge_sets(ticket_id),
    line_no      int NOT NULL CHECK (line_no > 0),
    kind         text NOT NULL CHECK (kind IN ('labour', 'part', 'fee', 'vat', 'refund', 'exchange')),
    code         text,
    description  text,
    qty          int NOT NULL DEFAULT 1 CHECK (qty > 0),
    unit_cents   bigint NOT NULL DEFAULT 0 CHECK (unit_cents >= 0),
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    cost_cents   bigint NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    payer        text NOT NULL CHECK (payer IN ('customer', 'manufacturer', 'company', 'seller')),
    basis        text NOT NULL CHECK (basis IN ('list', 'claim', 'cost', 'vat', 'seller')),
    part_line_no int,
    note         text,
    PRIMARY KEY (ticket_id, line_no)
);

-- Gap-free invoice numbers: one counter row per (centre, year), incremented in the transaction
-- that issues the invoice (a rollback gives the number back).
CREATE TABLE invoice_counters (
    center  text NOT NULL,
    year    int NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    last_no int NOT NULL CHECK (last_no > 0),
    PRIMARY KEY (center, year)
);

CREATE TABLE invoices (
    invoice_no  text PRIMARY KEY,
    center      text NOT NULL,
    year        int NOT NULL,
    seq         int NOT NULL CHECK (seq > 0),
    ticket_id   text NOT NULL UNIQUE REFERENCES charge_sets(ticket_id),
    issue_date  date NOT NULL,
    net_cents   bigint NOT NULL CHECK (net_cents >= 0),
    vat_rate_bp int NOT NULL,
    vat_cents   bigint NOT NULL CHECK (vat_cents >= 0),
    total_cents bigint NOT NULL CHECK (total_cents > 0),
    currency    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (center, year, seq),
    CHECK (total_cents = net_cents + vat_cents),
    CHECK (invoice_no = center || '-' || year || '-' || lpad(seq::text, 6, '0'))
);

-- =============================================================================================
-- Manufacturer claims (结算申请单), batched per manufacturer and period
-- =============================================================================================

CREATE TABLE claims (
    id             text PRIMARY KEY,
    manufacturer   text NOT NULL,
    period         text NOT NULL CHECK (coalesce(period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$', false)), -- as is_period()
    batch          int NOT NULL CHECK (batch > 0),
    state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'submitted', 'approved',
                                                       'partially_approved', 'rejected', 'paid')),
    currency       text NOT NULL,
    claimed_cents  bigint NOT NULL DEFAULT 0 CHECK (claimed_cents >= 0),
    approved_cents bigint CHECK (approved_cents >= 0 AND approved_cents <= claimed_cents),
    paid_cents     bigint CHECK (paid_cents > 0 AND paid_cents <= approved_cents),
    created_at     timestamptz NOT NULL DEFAULT now(),
    submitted_at   timestamptz,
    decided_at     timestamptz,
    paid_at        timestamptz,
    paid_date      date,
    reference      text,
    UNIQUE (manufacturer, period, batch)
);
-- New claim lines go to the one open batch of their manufacturer and period.
CREATE UNIQUE INDEX claims_one_open ON claims (manufacturer, period) WHERE state = 'open';

CREATE TABLE claim_lines (
    claim_id        text NOT NULL REFERENCES claims(id),
    line_no         int NOT NULL CHECK (line_no > 0),
    ticket_id       text NOT NULL,
    charge_line_no  int NOT NULL,
    center          text NOT NULL,
    kind            text NOT NULL,
    code            text,
    description     text,
    qty             int NOT NULL,
    part_line_no    int,
    claimed_cents   bigint NOT NULL CHECK (claimed_cents >= 0),
    approved_cents  bigint CHECK (approved_cents >= 0 AND approved_cents <= claimed_cents),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'submitted', 'approved',
                                                        'partially_approved', 'rejected', 'paid')),
    reason          text,
    return_required boolean NOT NULL DEFAULT false,
    business_date   date NOT NULL,
    PRIMARY KEY (claim_id, line_no),
    UNIQUE (ticket_id, charge_line_no),   -- a charge line is claimed once
    FOREIGN KEY (ticket_id, charge_line_no) REFERENCES charge_lines(ticket_id, line_no),
    CHECK (state NOT IN ('rejected', 'partially_approved') OR reason IS NOT NULL)
);
CREATE INDEX claim_lines_ticket ON claim_lines (ticket_id, code);

-- Defective parts received back (parts.DefectiveReturnRecorded).
CREATE TABLE defective_returns (
    id           bigserial PRIMARY KEY,
    ticket_id    text NOT NULL,
    sku          text NOT NULL,
    line_no      int,
    qty          int NOT NULL CHECK (qty > 0),
    site         text,
    manufacturer text,
    returned_at  text NOT NULL DEFAULT '',
    return_id    text UNIQUE,            -- the parts service's return record, when it names one
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX defective_returns_once
    ON defective_returns (ticket_id, sku, (coalesce(line_no, 0)), returned_at);

-- Defective parts the parts service says are owed back (parts.DefectiveReturnOwed): a part
-- line needs its return when the price list says so or when the parts service expects it.
CREATE TABLE returns_owed (
    return_id    text PRIMARY KEY,
    ticket_id    text NOT NULL,
    sku          text NOT NULL,
    line_no      int,
    qty          int NOT NULL CHECK (qty > 0),
    site         text,
    manufacturer text,
    due_date     date,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX returns_owed_ticket ON returns_owed (ticket_id, sku);

-- =============================================================================================
-- JSON shapes of the replies (field names = proto field names)
-- =============================================================================================

-- =============================================================================================
-- Events in: charging (intake.RepairCompleted / TicketClosed), defective returns (parts)
-- =============================================================================================

-- =============================================================================================
-- Commands (through exec_command: idempotent by request id, reply stored with the effect)
-- =============================================================================================

-- =============================================================================================
-- Reads (called directly, not through exec_command: nothing to make idempotent, nothing stored)
-- Signature: read_x(principal jsonb, args jsonb) RETURNS jsonb {"status", "body"}.
-- =============================================================================================

