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

-- Today as an Asia/Shanghai business date.
CREATE FUNCTION today_sh() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- A business date from an event's instant ("2026-07-01T02:00:00Z") or date ("2026-07-01");
-- today when absent or unreadable (an event must not be lost over a malformed timestamp).
CREATE FUNCTION business_date_of(p text) RETURNS date LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF coalesce(p, '') = '' THEN
        RETURN today_sh();
    END IF;
    IF p ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN p::date;
    END IF;
    RETURN (p::timestamptz AT TIME ZONE 'Asia/Shanghai')::date;
EXCEPTION WHEN data_exception THEN
    RETURN today_sh();
END $$;

CREATE FUNCTION ts_text(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION period_of(d date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(d, 'YYYY-MM')
$$;

CREATE FUNCTION period_start(p text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT (p || '-01')::date
$$;

CREATE FUNCTION is_period(p text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p ~ '^[0-9]{4}-(0[1-9]|1[0-2])$', false)
$$;

-- Finance (and admin, and services calling on their own behalf) may see everything money.
CREATE FUNCTION is_finance(p_principal jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'role', '') IN ('finance', 'admin', 'service')
$$;

CREATE FUNCTION require_finance(p_principal jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT is_finance(p_principal) THEN
        PERFORM fail(403, 'forbidden', 'only finance may do this');
    END IF;
END $$;

-- May this principal see the money of centre p_center (in region p_region)?
CREATE FUNCTION may_see(p_principal jsonb, p_center text, p_region text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_principal->>'role'
        WHEN 'admin' THEN true
        WHEN 'finance' THEN true
        WHEN 'reviewer' THEN true
        WHEN 'service' THEN true
        WHEN 'region' THEN p_principal->>'region' = p_region
        WHEN 'center' THEN p_principal->>'site' = p_center
        ELSE false END
$$;

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO settings VALUES ('currency', 'CNY');

CREATE FUNCTION currency() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT value FROM settings WHERE name = 'currency'), 'CNY')
$$;

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

CREATE FUNCTION reject_event(p_type text, e jsonb, p_reason text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO event_rejects(type, ticket_id, reason, payload)
        VALUES (p_type, e->>'ticket_id', p_reason, e);
    SELECT audit_write('{"role": "service", "subject": "settlement"}', NULL, 'reject_event',
                       'event', e->>'ticket_id', jsonb_build_object('type', p_type, 'reason', p_reason));
$$;

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

CREATE FUNCTION labour_rate(p_code text, p_category text, p_mfr text, p_date date)
RETURNS labour_rates LANGUAGE sql STABLE AS $$
    SELECT * FROM labour_rates
    WHERE labour_code = p_code AND category IN (coalesce(p_category, '*'), '*')
      AND manufacturer IN (coalesce(p_mfr, '*'), '*') AND effective_from <= p_date
    ORDER BY manufacturer = '*', category = '*', effective_from DESC
    LIMIT 1
$$;

CREATE FUNCTION part_price(p_sku text, p_date date) RETURNS parts_prices LANGUAGE sql STABLE AS $$
    SELECT * FROM parts_prices WHERE sku = p_sku AND effective_from <= p_date
    ORDER BY effective_from DESC LIMIT 1
$$;

CREATE FUNCTION handling_bp(p_mfr text, p_date date) RETURNS int LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT handling_bp FROM claim_handling
                     WHERE manufacturer IN (coalesce(p_mfr, '*'), '*') AND effective_from <= p_date
                     ORDER BY manufacturer = '*', effective_from DESC LIMIT 1), 0)
$$;

CREATE FUNCTION vat_rate(p_date date) RETURNS int LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT rate_bp FROM vat_rates WHERE effective_from <= p_date
                     ORDER BY effective_from DESC LIMIT 1), 1300)
$$;

-- The fees in force for a job: per fee code, the most specific row, then the latest.
CREATE FUNCTION fees_for(p_category text, p_mfr text, p_date date) RETURNS SETOF fee_rates
LANGUAGE sql STABLE AS $$
    SELECT f.* FROM (
        SELECT DISTINCT ON (fee_code) * FROM fee_rates
        WHERE category IN (coalesce(p_category, '*'), '*')
          AND manufacturer IN (coalesce(p_mfr, '*'), '*') AND effective_from <= p_date
        ORDER BY fee_code, manufacturer = '*', category = '*', effective_from DESC) f
    WHERE f.active
    ORDER BY f.fee_code
$$;

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
    period    text PRIMARY KEY CHECK (is_period(period)),
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

-- Balance, checked at commit (deferred), whoever inserts: debits = credits per entry, and an
-- entry has at least two lines.
CREATE FUNCTION journal_check_entry(p_entry bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_d bigint;
    v_c bigint;
    v_n int;
BEGIN
    SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0), count(*)
        INTO v_d, v_c, v_n FROM journal_lines WHERE entry_no = p_entry;
    IF v_n < 2 OR v_d <> v_c THEN
        RAISE EXCEPTION 'journal entry % is unbalanced (% lines, debits %, credits %)',
            p_entry, v_n, v_d, v_c USING ERRCODE = '23514';
    END IF;
END $$;

CREATE FUNCTION journal_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM journal_check_entry(NEW.entry_no);
    RETURN NULL;
END $$;

CREATE FUNCTION journal_lines_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM journal_check_entry(NEW.entry_no);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entries_balanced();
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_lines_balanced();

-- Append-only: corrections are reversal entries, never edits.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed (post a reversal)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- The first open period on or after the business date's own period; creates periods on demand.
-- Takes a share lock on that period row until commit, so a concurrent close waits for postings
-- in flight and postings after the close see it closed.
CREATE FUNCTION posting_period_for(p_date date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    p text := period_of(p_date);
    s text;
BEGIN
    FOR i IN 1..1200 LOOP
        SELECT state INTO s FROM periods WHERE period = p FOR SHARE;
        IF NOT FOUND THEN
            INSERT INTO periods(period) VALUES (p) ON CONFLICT DO NOTHING;
            SELECT state INTO s FROM periods WHERE period = p FOR SHARE;
        END IF;
        IF s = 'open' THEN
            RETURN p;
        END IF;
        p := period_of((period_start(p) + interval '1 month')::date);
    END LOOP;
    PERFORM fail(500, 'no_open_period', 'no open accounting period found');
END $$;

-- Post one balanced entry. p_lines: [{account, debit, credit, ticket_id, center, region,
-- manufacturer, payer}], zero lines dropped. Idempotent by p_key: a second call with the same
-- key returns the first entry's number and posts nothing. Returns NULL when nothing is left to
-- post (all amounts zero). Refuses (500) an unbalanced or one-sided set: that is a bug.
CREATE FUNCTION post_entry(p_key text, p_kind text, p_date date, p_memo text, p_lines jsonb,
                           p_ticket text DEFAULT NULL, p_invoice text DEFAULT NULL,
                           p_claim text DEFAULT NULL, p_reverses bigint DEFAULT NULL,
                           p_principal jsonb DEFAULT NULL, p_req text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_no bigint;
    v_period text;
    v_n int;
    v_d bigint;
    v_c bigint;
    v_bad int;
BEGIN
    SELECT entry_no INTO v_no FROM journal_entries WHERE source_key = p_key;
    IF FOUND THEN
        RETURN v_no;
    END IF;
    SELECT count(*), coalesce(sum(coalesce(debit, 0)), 0), coalesce(sum(coalesce(credit, 0)), 0),
           count(*) FILTER (WHERE coalesce(debit, 0) < 0 OR coalesce(credit, 0) < 0
                               OR (coalesce(debit, 0) > 0 AND coalesce(credit, 0) > 0))
        INTO v_n, v_d, v_c, v_bad
        FROM jsonb_to_recordset(coalesce(p_lines, '[]')) AS x(debit bigint, credit bigint)
        WHERE coalesce(debit, 0) <> 0 OR coalesce(credit, 0) <> 0;
    IF v_n = 0 THEN
        RETURN NULL;
    END IF;
    IF v_bad > 0 OR v_d <> v_c OR v_n < 2 THEN
        PERFORM fail(500, 'unbalanced', format('posting %s is not balanced (debits %s, credits %s)',
                                              p_key, v_d, v_c));
    END IF;
    v_period := posting_period_for(p_date);
    UPDATE ledger_head SET last_no = last_no + 1 RETURNING last_no INTO v_no;
    INSERT INTO journal_entries(entry_no, source_key, kind, business_date, posting_date,
                                posting_period, currency, memo, ticket_id, invoice_no, claim_id,
                                reverses, request_id, principal)
        VALUES (v_no, p_key, p_kind, p_date, greatest(p_date, period_start(v_period)), v_period,
                currency(), p_memo, p_ticket, p_invoice, p_claim, p_reverses, p_req, p_principal);
    INSERT INTO journal_lines(entry_no, line_no, account, debit_cents, credit_cents, ticket_id,
                              center, region, manufacturer, payer)
        SELECT v_no, row_number() OVER (ORDER BY x.ord), x.j->>'account',
               coalesce((x.j->>'debit')::bigint, 0), coalesce((x.j->>'credit')::bigint, 0),
               x.j->>'ticket_id', x.j->>'center', x.j->>'region', x.j->>'manufacturer',
               x.j->>'payer'
        FROM jsonb_array_elements(p_lines) WITH ORDINALITY AS x(j, ord)
        WHERE coalesce((x.j->>'debit')::bigint, 0) <> 0 OR coalesce((x.j->>'credit')::bigint, 0) <> 0;
    RETURN v_no;
END $$;

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

CREATE FUNCTION next_invoice_no(p_center text, p_year int, OUT seq int, OUT invoice_no text)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invoice_counters AS c (center, year, last_no) VALUES (p_center, p_year, 1)
        ON CONFLICT (center, year) DO UPDATE SET last_no = c.last_no + 1
        RETURNING c.last_no INTO seq;
    invoice_no := p_center || '-' || p_year || '-' || lpad(seq::text, 6, '0');
END $$;

-- =============================================================================================
-- Manufacturer claims (结算申请单), batched per manufacturer and period
-- =============================================================================================

CREATE TABLE claims (
    id             text PRIMARY KEY,
    manufacturer   text NOT NULL,
    period         text NOT NULL CHECK (is_period(period)),
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

CREATE FUNCTION claim_line_needs_return(l claim_lines) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT l.kind = 'part' AND (l.return_required OR EXISTS (
        SELECT 1 FROM returns_owed o
        WHERE o.ticket_id = l.ticket_id AND o.sku = l.code
          AND (o.line_no IS NULL OR l.part_line_no IS NULL OR o.line_no = l.part_line_no)))
$$;

-- Has the defective part of this claim line come back (or is none needed)?
CREATE FUNCTION claim_line_returned(l claim_lines) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT NOT claim_line_needs_return(l) OR coalesce((
        SELECT sum(r.qty) FROM defective_returns r
        WHERE r.ticket_id = l.ticket_id AND r.sku = l.code
          AND (r.line_no IS NULL OR l.part_line_no IS NULL OR r.line_no = l.part_line_no)), 0) >= l.qty
$$;

-- The open batch for (manufacturer, period), created when there is none; locked until commit.
CREATE FUNCTION open_claim(p_mfr text, p_period text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_batch int;
BEGIN
    SELECT id INTO v_id FROM claims WHERE manufacturer = p_mfr AND period = p_period
        AND state = 'open' FOR UPDATE;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    SELECT coalesce(max(batch), 0) + 1 INTO v_batch FROM claims
        WHERE manufacturer = p_mfr AND period = p_period;
    v_id := format('CLM-%s-%s-%s', p_mfr, p_period, lpad(v_batch::text, 2, '0'));
    INSERT INTO claims(id, manufacturer, period, batch, currency)
        VALUES (v_id, p_mfr, p_period, v_batch, currency());
    RETURN v_id;
END $$;

CREATE FUNCTION claim_recount(p_id text) RETURNS void LANGUAGE sql AS $$
    UPDATE claims SET claimed_cents = (SELECT coalesce(sum(claimed_cents), 0) FROM claim_lines
                                       WHERE claim_id = p_id)
    WHERE id = p_id;
$$;

-- =============================================================================================
-- JSON shapes of the replies (field names = proto field names)
-- =============================================================================================

CREATE FUNCTION charge_line_json(l charge_lines) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'line_no', l.line_no, 'kind', l.kind, 'code', l.code, 'description', l.description,
        'qty', l.qty, 'unit_cents', l.unit_cents, 'amount_cents', l.amount_cents,
        'payer', l.payer, 'basis', l.basis,
        'cost_cents', CASE WHEN l.kind = 'part' THEN l.cost_cents END,
        'claim_id', cl.claim_id, 'claim_line_no', cl.line_no, 'part_line_no', l.part_line_no,
        'note', l.note))
    FROM (SELECT 1) one
    LEFT JOIN claim_lines cl ON cl.ticket_id = l.ticket_id AND cl.charge_line_no = l.line_no
$$;

CREATE FUNCTION charge_set_json(cs charge_sets) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', cs.ticket_id, 'center', cs.center, 'region', cs.region, 'kind', cs.kind,
        'payer', cs.payer, 'warranty_status', cs.warranty_status, 'remedy', cs.remedy,
        'cause', cs.cause, 'category', cs.category, 'brand', cs.brand,
        'manufacturer', cs.manufacturer, 'business_date', cs.business_date::text,
        'currency', cs.currency, 'customer_cents', cs.customer_cents,
        'manufacturer_cents', cs.manufacturer_cents, 'company_cents', cs.company_cents,
        'seller_cents', cs.seller_cents, 'vat_cents', cs.vat_cents, 'vat_rate_bp', cs.vat_rate_bp,
        'invoice_no', cs.invoice_no, 'incomplete', cs.incomplete, 'notes', to_jsonb(cs.notes),
        'lines', (SELECT coalesce(jsonb_agg(charge_line_json(l) ORDER BY l.line_no), '[]')
                  FROM charge_lines l WHERE l.ticket_id = cs.ticket_id),
        'closed_outcome', cs.closed_outcome, 'closed_date', cs.closed_date::text,
        'entries', (SELECT coalesce(jsonb_agg(e.entry_no ORDER BY e.entry_no), '[]')
                    FROM journal_entries e WHERE e.ticket_id = cs.ticket_id)))
$$;

CREATE FUNCTION invoice_json(i invoices) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'invoice_no', i.invoice_no, 'ticket_id', i.ticket_id, 'center', i.center,
        'year', i.year, 'seq', i.seq, 'issue_date', i.issue_date::text,
        'net_cents', i.net_cents, 'vat_rate_bp', i.vat_rate_bp, 'vat_cents', i.vat_cents,
        'total_cents', i.total_cents, 'currency', i.currency,
        'lines', (SELECT coalesce(jsonb_agg(charge_line_json(l) ORDER BY l.line_no), '[]')
                  FROM charge_lines l WHERE l.ticket_id = i.ticket_id AND l.payer = 'customer'),
        'paid', p.entry_no IS NOT NULL, 'paid_date', p.business_date::text))
    FROM (SELECT 1) one
    LEFT JOIN journal_entries p ON p.source_key = 'payment:' || i.ticket_id
$$;

CREATE FUNCTION claim_line_json(l claim_lines) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'line_no', l.line_no, 'ticket_id', l.ticket_id, 'center', l.center, 'kind', l.kind,
        'code', l.code, 'description', l.description, 'qty', l.qty,
        'claimed_cents', l.claimed_cents, 'approved_cents', l.approved_cents, 'state', l.state,
        'reason', l.reason, 'return_required', claim_line_needs_return(l),
        'returned', CASE WHEN claim_line_needs_return(l) THEN claim_line_returned(l) END,
        'business_date', l.business_date::text, 'charge_line_no', l.charge_line_no))
$$;

CREATE FUNCTION claim_json(c claims, p_lines boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'manufacturer', c.manufacturer, 'period', c.period, 'batch', c.batch,
        'state', c.state, 'currency', c.currency, 'claimed_cents', c.claimed_cents,
        'approved_cents', c.approved_cents, 'paid_cents', c.paid_cents,
        'lines', CASE WHEN p_lines THEN (
            SELECT coalesce(jsonb_agg(claim_line_json(l) ORDER BY l.line_no), '[]')
            FROM claim_lines l WHERE l.claim_id = c.id) END,
        'created_at', ts_text(c.created_at), 'submitted_at', ts_text(c.submitted_at),
        'decided_at', ts_text(c.decided_at), 'paid_at', ts_text(c.paid_at),
        'paid_date', c.paid_date::text, 'reference', c.reference,
        'waiting_lines', CASE WHEN c.state = 'open' THEN (
            SELECT coalesce(jsonb_agg(l.line_no ORDER BY l.line_no), '[]') FROM claim_lines l
            WHERE l.claim_id = c.id AND NOT claim_line_returned(l)) END,
        'line_count', (SELECT count(*) FROM claim_lines l WHERE l.claim_id = c.id)))
$$;

CREATE FUNCTION entry_json(e journal_entries) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'entry_no', e.entry_no, 'kind', e.kind, 'business_date', e.business_date::text,
        'posting_date', e.posting_date::text, 'posting_period', e.posting_period,
        'memo', e.memo, 'ticket_id', e.ticket_id, 'invoice_no', e.invoice_no,
        'claim_id', e.claim_id, 'reverses', e.reverses,
        'reversed_by', (SELECT r.entry_no FROM journal_entries r WHERE r.reverses = e.entry_no),
        'currency', e.currency, 'created_at', ts_text(e.created_at),
        'lines', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                      'line_no', l.line_no, 'account', l.account, 'account_name', a.name,
                      'debit_cents', l.debit_cents, 'credit_cents', l.credit_cents,
                      'ticket_id', l.ticket_id, 'center', l.center, 'region', l.region,
                      'manufacturer', l.manufacturer, 'payer', l.payer)) ORDER BY l.line_no), '[]')
                  FROM journal_lines l JOIN accounts a ON a.code = l.account
                  WHERE l.entry_no = e.entry_no)))
$$;

CREATE FUNCTION period_json(p periods) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'period', p.period, 'state', p.state, 'closed_at', ts_text(p.closed_at),
        'closed_by', p.closed_by,
        'entries', (SELECT count(*) FROM journal_entries e WHERE e.posting_period = p.period),
        'debit_cents', (SELECT coalesce(sum(l.debit_cents), 0) FROM journal_entries e
                        JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period),
        'credit_cents', (SELECT coalesce(sum(l.credit_cents), 0) FROM journal_entries e
                         JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period)))
$$;

-- =============================================================================================
-- Events in: charging (intake.RepairCompleted / TicketClosed), defective returns (parts)
-- =============================================================================================

-- The ledger entry of a ticket's charge set: who owes (per payer) against revenue, VAT, and
-- the parts consumed at cost.
CREATE FUNCTION post_charge(cs charge_sets, p_claim text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_lines jsonb;
BEGIN
    WITH l AS (SELECT * FROM charge_lines WHERE ticket_id = cs.ticket_id),
    x AS (
        SELECT 1 AS ord, CASE payer WHEN 'customer' THEN '1122' WHEN 'manufacturer' THEN '1124'
                                    WHEN 'company' THEN '6601' WHEN 'seller' THEN '6603' END AS account,
               sum(amount_cents) AS debit, 0::bigint AS credit, payer
        FROM l GROUP BY payer
        UNION ALL
        SELECT 2, CASE kind WHEN 'part' THEN '6051' WHEN 'vat' THEN '2221'
                            WHEN 'refund' THEN '2241' WHEN 'exchange' THEN '2241' ELSE '6001' END,
               0, sum(amount_cents), payer
        FROM l GROUP BY 2, payer
        UNION ALL
        SELECT 3, '6401', sum(cost_cents), 0, NULL FROM l WHERE kind = 'part'
        UNION ALL
        SELECT 4, '1405', 0, sum(cost_cents), NULL FROM l WHERE kind = 'part')
    SELECT jsonb_agg(jsonb_build_object(
               'account', account, 'debit', debit, 'credit', credit, 'payer', payer,
               'ticket_id', cs.ticket_id, 'center', cs.center, 'region', cs.region,
               'manufacturer', cs.manufacturer) ORDER BY ord, account, payer)
        INTO v_lines FROM x;
    RETURN post_entry('charge:' || cs.ticket_id, 'charge', cs.business_date,
                      format('%s charges of ticket %s', cs.kind, cs.ticket_id), v_lines,
                      cs.ticket_id, cs.invoice_no, p_claim);
END $$;

CREATE FUNCTION emit_charged(cs charge_sets) RETURNS void LANGUAGE sql AS $$
    SELECT emit('settlement', 'settlement.Charged', jsonb_build_object(
        'ticket_id', cs.ticket_id, 'customer_cents', cs.customer_cents,
        'manufacturer_cents', cs.manufacturer_cents, 'company_cents', cs.company_cents,
        'invoice_no', cs.invoice_no, 'currency', cs.currency, 'seller_cents', cs.seller_cents,
        'center', cs.center, 'kind', cs.kind, 'incomplete', cs.incomplete));
$$;

CREATE FUNCTION charge_repair(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := nullif(e->>'ticket_id', '');
    v_center text := nullif(e->>'center', '');
    v_cat text := nullif(e->>'category', '');
    v_mfr text := nullif(e->>'manufacturer', '');
    v_code text := nullif(e->>'labour_code', '');
    v_minutes int := greatest(coalesce((e->>'labour_minutes')::int, 0), 0);
    v_date date;
    v_payer text;
    v_basis text;
    v_cause text;
    v_line int := 0;
    v_notes text[] := '{}';
    v_incomplete boolean := false;
    v_handling int;
    v_vat_bp int;
    v_net bigint;
    v_vat bigint;
    v_qty int;
    v_unit bigint;
    v_amount bigint;
    v_cost bigint;
    v_line_payer text;
    v_line_basis text;
    v_claim text;
    v_inv record;
    lr labour_rates;
    pp parts_prices;
    fr fee_rates;
    p jsonb;
    cs charge_sets;
BEGIN
    IF v_ticket IS NULL OR v_center IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'RepairCompleted needs ticket_id and center');
    END IF;
    IF EXISTS (SELECT 1 FROM charge_sets WHERE ticket_id = v_ticket) THEN
        RETURN; -- charged already: a replay posts nothing
    END IF;
    v_payer := lower(coalesce(nullif(e->>'payer', ''),
        CASE WHEN e->>'warranty_status' IN ('granted', 'granted_with_depreciation')
                  AND coalesce(e->>'remedy', 'repair') = 'repair'
             THEN 'manufacturer' ELSE 'customer' END));
    IF v_payer NOT IN ('customer', 'manufacturer', 'company') THEN
        PERFORM fail(422, 'invalid_event', format('unknown payer %s', v_payer));
    END IF;
    v_cause := coalesce(nullif(e->>'cause', ''), 'other');
    IF v_cause NOT IN ('service_station', 'customer_visit', 'design_quality',
                       'manufacturing_quality', 'parts_problem', 'other') THEN
        v_notes := v_notes || format('unknown cause %s counted as other', v_cause);
        v_cause := 'other';
    END IF;
    IF v_payer = 'manufacturer' AND v_mfr IS NULL THEN
        v_notes := v_notes || 'warranty work without a manufacturer: claimed from UNKNOWN'::text;
        v_mfr := 'UNKNOWN';
        v_incomplete := true;
    END IF;
    v_date := business_date_of(e->>'completed_at');
    INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer, payer,
                            warranty_status, remedy, cause, fault_code, labour_code,
                            labour_minutes, business_date, currency, source)
        VALUES (v_ticket, 'repair', v_center, nullif(e->>'region', ''), v_cat,
                nullif(e->>'brand', ''), v_mfr, v_payer, nullif(e->>'warranty_status', ''),
                nullif(e->>'remedy', ''), v_cause, nullif(e->>'fault_code', ''), v_code,
                v_minutes, v_date, currency(), e)
        ON CONFLICT (ticket_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN; -- a concurrent delivery of the same event won
    END IF;
    -- Customers pay list prices; manufacturers and goodwill are priced at claim rates.
    v_basis := CASE v_payer WHEN 'customer' THEN 'list' ELSE 'claim' END;

    -- Labour.
    IF v_code IS NOT NULL THEN
        lr := labour_rate(v_code, v_cat, v_mfr, v_date);
        IF lr.labour_code IS NULL THEN
            v_incomplete := true;
            v_notes := v_notes || format('no labour rate for %s (%s, %s) on %s', v_code,
                                         coalesce(v_cat, '-'), coalesce(v_mfr, '-'), v_date);
            v_amount := 0;
        ELSIF v_basis = 'list' THEN
            v_amount := lr.list_flat_cents + round(lr.list_hour_cents::numeric * v_minutes / 60)::bigint;
        ELSE
            v_amount := lr.claim_flat_cents + round(lr.claim_hour_cents::numeric * v_minutes / 60)::bigint;
        END IF;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis, note)
            VALUES (v_ticket, v_line, 'labour', v_code,
                    coalesce(lr.description, 'labour ' || v_code), 1, v_amount, v_amount, v_payer,
                    v_basis, format('%s min', v_minutes));
    END IF;

    -- Parts.
    v_handling := handling_bp(v_mfr, v_date);
    FOR p IN SELECT x FROM jsonb_array_elements(CASE jsonb_typeof(e->'parts_used')
                                                    WHEN 'array' THEN e->'parts_used'
                                                    ELSE '[]' END) AS x LOOP
        v_qty := coalesce((p->>'qty')::int, 1);
        IF coalesce(p->>'sku', '') = '' OR v_qty <= 0 THEN
            v_notes := v_notes || format('part line %s ignored (no SKU or quantity)', p::text);
            CONTINUE;
        END IF;
        pp := part_price(p->>'sku', v_date);
        v_line_payer := v_payer;
        IF pp.sku IS NULL THEN
            v_incomplete := true;
            v_notes := v_notes || format('no price for part %s on %s', p->>'sku', v_date);
            v_unit := 0;
            v_amount := 0;
            v_cost := 0;
            v_line_basis := v_basis;
        ELSIF v_payer = 'customer' THEN
            v_unit := pp.list_cents;
            v_amount := pp.list_cents * v_qty;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'list';
        ELSIF v_payer = 'manufacturer' AND pp.warranty_covered THEN
            v_unit := round(pp.cost_cents::numeric * (10000 + v_handling) / 10000)::bigint;
            v_amount := round(pp.cost_cents::numeric * v_qty * (10000 + v_handling) / 10000)::bigint;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'claim';
        ELSE
            -- Goodwill, or a part the manufacturer does not reimburse: the company, at cost.
            v_line_payer := 'company';
            v_unit := pp.cost_cents;
            v_amount := pp.cost_cents * v_qty;
            v_cost := pp.cost_cents * v_qty;
            v_line_basis := 'cost';
        END IF;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, cost_cents, payer, basis, part_line_no, note)
            VALUES (v_ticket, v_line, 'part', p->>'sku', coalesce(pp.description, p->>'sku'),
                    v_qty, v_unit, v_amount, v_cost, v_line_payer, v_line_basis,
                    (p->>'line_no')::int,
                    CASE WHEN v_line_basis = 'claim' AND v_handling > 0
                         THEN format('cost plus %s %% handling', trim_scale(v_handling / 100.0)) END);
    END LOOP;

    -- Service and travel fees.
    FOR fr IN SELECT * FROM fees_for(v_cat, v_mfr, v_date) LOOP
        CONTINUE WHEN fr.applies = 'visit' AND v_cause <> 'customer_visit';
        v_unit := CASE v_basis WHEN 'list' THEN fr.list_cents ELSE fr.claim_cents END;
        CONTINUE WHEN v_unit IS NULL;
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis)
            VALUES (v_ticket, v_line, 'fee', fr.fee_code, fr.description, 1, v_unit, v_unit,
                    v_payer, v_basis);
    END LOOP;

    -- VAT on what the customer pays, once on the net total, rounded half-up.
    v_vat_bp := vat_rate(v_date);
    SELECT coalesce(sum(amount_cents), 0) INTO v_net FROM charge_lines
        WHERE ticket_id = v_ticket AND payer = 'customer';
    v_vat := round(v_net::numeric * v_vat_bp / 10000)::bigint;
    IF v_vat > 0 THEN
        v_line := v_line + 1;
        INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty, unit_cents,
                                 amount_cents, payer, basis)
            VALUES (v_ticket, v_line, 'vat', 'VAT', format('VAT %s %%', trim_scale(v_vat_bp / 100.0)), 1,
                    v_vat, v_vat, 'customer', 'vat');
    END IF;

    UPDATE charge_sets SET
        customer_cents = t.customer, manufacturer_cents = t.manufacturer,
        company_cents = t.company, vat_cents = v_vat, vat_rate_bp = v_vat_bp,
        incomplete = v_incomplete, notes = v_notes
    FROM (SELECT coalesce(sum(amount_cents) FILTER (WHERE payer = 'customer'), 0) AS customer,
                 coalesce(sum(amount_cents) FILTER (WHERE payer = 'manufacturer'), 0) AS manufacturer,
                 coalesce(sum(amount_cents) FILTER (WHERE payer = 'company'), 0) AS company
          FROM charge_lines WHERE ticket_id = v_ticket) t
    WHERE charge_sets.ticket_id = v_ticket
    RETURNING charge_sets.* INTO cs;

    -- The customer's invoice, numbered without gaps per centre and year.
    IF cs.customer_cents > 0 THEN
        SELECT * INTO v_inv FROM next_invoice_no(cs.center, extract(year FROM v_date)::int);
        INSERT INTO invoices(invoice_no, center, year, seq, ticket_id, issue_date, net_cents,
                             vat_rate_bp, vat_cents, total_cents, currency)
            VALUES (v_inv.invoice_no, cs.center, extract(year FROM v_date)::int, v_inv.seq,
                    v_ticket, v_date, v_net, v_vat_bp, v_vat, v_net + v_vat, cs.currency);
        UPDATE charge_sets SET invoice_no = v_inv.invoice_no WHERE ticket_id = v_ticket
            RETURNING * INTO cs;
    END IF;

    -- The manufacturer's share becomes lines of the open claim of its manufacturer and month.
    IF EXISTS (SELECT 1 FROM charge_lines WHERE ticket_id = v_ticket AND payer = 'manufacturer') THEN
        v_claim := open_claim(v_mfr, period_of(v_date));
        INSERT INTO claim_lines(claim_id, line_no, ticket_id, charge_line_no, center, kind, code,
                                description, qty, part_line_no, claimed_cents, return_required,
                                business_date)
            SELECT v_claim,
                   (SELECT coalesce(max(line_no), 0) FROM claim_lines WHERE claim_id = v_claim)
                       + row_number() OVER (ORDER BY l.line_no),
                   l.ticket_id, l.line_no, cs.center, l.kind, l.code, l.description, l.qty,
                   l.part_line_no, l.amount_cents,
                   l.kind = 'part' AND coalesce((part_price(l.code, v_date)).return_required, false),
                   v_date
            FROM charge_lines l WHERE l.ticket_id = v_ticket AND l.payer = 'manufacturer';
        PERFORM claim_recount(v_claim);
    END IF;

    PERFORM post_charge(cs, v_claim);
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'charge', 'ticket',
                        v_ticket, jsonb_build_object('payer', v_payer,
                            'customer_cents', cs.customer_cents,
                            'manufacturer_cents', cs.manufacturer_cents,
                            'company_cents', cs.company_cents, 'invoice_no', cs.invoice_no));
    -- Events last: every transaction takes the outbox lock after the ledger's (no deadlocks).
    IF cs.invoice_no IS NOT NULL THEN
        PERFORM emit('settlement', 'settlement.InvoiceIssued', jsonb_build_object(
            'invoice_no', cs.invoice_no, 'ticket_id', v_ticket, 'center', cs.center,
            'issue_date', v_date::text, 'net_cents', v_net, 'vat_cents', v_vat,
            'total_cents', v_net + v_vat, 'currency', cs.currency));
    END IF;
    PERFORM emit_charged(cs);
END $$;

-- TicketClosed: the customer's payment for a paid repair; refunds and exchanges recorded
-- against the seller's account; a charge set (and Charged) for tickets closed without repair.
CREATE FUNCTION close_ticket(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_ticket text := nullif(e->>'ticket_id', '');
    v_outcome text := nullif(e->>'outcome', '');
    v_date date;
    v_amount bigint;
    v_kind text;
    cs charge_sets;
BEGIN
    IF v_ticket IS NULL OR v_outcome IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'TicketClosed needs ticket_id and outcome');
    END IF;
    IF v_outcome NOT IN ('repaired', 'refunded', 'exchanged', 'declined') THEN
        PERFORM fail(422, 'invalid_event', format('unknown outcome %s', v_outcome));
    END IF;
    v_date := business_date_of(coalesce(nullif(e->>'closed_date', ''), e->>'closed_at'));
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = v_ticket FOR UPDATE;
    IF FOUND AND cs.closed_outcome IS NOT NULL THEN
        RETURN; -- closed already: a replay posts nothing
    END IF;

    IF v_outcome IN ('refunded', 'exchanged') THEN
        v_amount := CASE v_outcome WHEN 'refunded' THEN coalesce((e->>'refund_cents')::bigint, 0)
                        ELSE coalesce(nullif((e->>'refund_cents')::bigint, 0),
                                      (e->>'price_cents')::bigint, 0) END;
        IF v_amount < 0 THEN
            PERFORM fail(422, 'invalid_event', 'negative refund');
        END IF;
        v_kind := CASE v_outcome WHEN 'refunded' THEN 'refund' ELSE 'exchange' END;
        IF cs.ticket_id IS NULL THEN
            INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand,
                                    manufacturer, payer, business_date, currency, seller_cents,
                                    closed_outcome, closed_date, source)
                VALUES (v_ticket, v_outcome, coalesce(nullif(e->>'center', ''), '-'),
                        nullif(e->>'region', ''), nullif(e->>'category', ''),
                        nullif(e->>'brand', ''), nullif(e->>'manufacturer', ''), 'seller',
                        v_date, currency(), v_amount, v_outcome, v_date, e)
                RETURNING * INTO cs;
            IF v_amount > 0 THEN
                INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty,
                                         unit_cents, amount_cents, payer, basis)
                    VALUES (v_ticket, 1, v_kind, upper(v_kind),
                            CASE v_kind WHEN 'refund' THEN 'refund to the customer (三包)'
                                        ELSE 'exchange of the product (三包)' END,
                            1, v_amount, v_amount, 'seller', 'seller');
            END IF;
            PERFORM post_charge(cs, NULL);
            PERFORM emit_charged(cs);
        ELSE
            -- Repaired first, then refunded or exchanged: the seller's line joins the set.
            IF v_amount > 0 THEN
                INSERT INTO charge_lines(ticket_id, line_no, kind, code, description, qty,
                                         unit_cents, amount_cents, payer, basis)
                    VALUES (v_ticket, (SELECT max(line_no) + 1 FROM charge_lines
                                       WHERE ticket_id = v_ticket), v_kind, upper(v_kind),
                            'closed as ' || v_outcome, 1, v_amount, v_amount, 'seller', 'seller');
                PERFORM post_entry('seller:' || v_ticket, 'seller_refund', v_date,
                    format('%s of ticket %s (seller account)', v_kind, v_ticket),
                    jsonb_build_array(
                        jsonb_build_object('account', '6603', 'debit', v_amount, 'payer', 'seller',
                                           'ticket_id', v_ticket, 'center', cs.center,
                                           'region', cs.region, 'manufacturer', cs.manufacturer),
                        jsonb_build_object('account', '2241', 'credit', v_amount, 'payer', 'seller',
                                           'ticket_id', v_ticket, 'center', cs.center,
                                           'region', cs.region, 'manufacturer', cs.manufacturer)),
                    v_ticket);
            END IF;
            UPDATE charge_sets SET seller_cents = seller_cents + v_amount,
                                   closed_outcome = v_outcome, closed_date = v_date
                WHERE ticket_id = v_ticket;
        END IF;
    ELSIF v_outcome = 'declined' AND cs.ticket_id IS NULL THEN
        INSERT INTO charge_sets(ticket_id, kind, center, region, category, brand, manufacturer,
                                payer, business_date, currency, closed_outcome, closed_date, source)
            VALUES (v_ticket, 'declined', coalesce(nullif(e->>'center', ''), '-'),
                    nullif(e->>'region', ''), nullif(e->>'category', ''), nullif(e->>'brand', ''),
                    nullif(e->>'manufacturer', ''), 'none', v_date, currency(), v_outcome, v_date, e)
            RETURNING * INTO cs;
        PERFORM emit_charged(cs);
    ELSIF cs.ticket_id IS NOT NULL THEN
        -- Repaired (or declined after a repair was charged): the customer pays at hand-back.
        IF cs.customer_cents > 0 THEN
            PERFORM post_entry('payment:' || v_ticket, 'customer_payment', v_date,
                format('payment of invoice %s', cs.invoice_no),
                jsonb_build_array(
                    jsonb_build_object('account', '1001', 'debit', cs.customer_cents,
                                       'payer', 'customer', 'ticket_id', v_ticket,
                                       'center', cs.center, 'region', cs.region),
                    jsonb_build_object('account', '1122', 'credit', cs.customer_cents,
                                       'payer', 'customer', 'ticket_id', v_ticket,
                                       'center', cs.center, 'region', cs.region)),
                v_ticket, cs.invoice_no);
        END IF;
        UPDATE charge_sets SET closed_outcome = v_outcome, closed_date = v_date
            WHERE ticket_id = v_ticket;
    ELSE
        PERFORM reject_event('intake.TicketClosed', e,
                             'closed as repaired but no RepairCompleted was charged');
        RETURN;
    END IF;
    PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL, 'close', 'ticket',
                        v_ticket, jsonb_build_object('outcome', v_outcome, 'amount', v_amount));
END $$;

-- The handlers the consumer calls. Malformed events are recorded in event_rejects and skipped
-- (so one bad event cannot stop the stream); anything else (a deadlock, a lost connection, a
-- bug) rolls back and the event is delivered again.
CREATE FUNCTION on_repair_completed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM charge_repair(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('intake.RepairCompleted', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;

CREATE FUNCTION on_ticket_closed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM close_ticket(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('intake.TicketClosed', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;

CREATE FUNCTION on_defective_return(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'sku', '') = '' THEN
        PERFORM reject_event('parts.DefectiveReturnRecorded', e, 'ticket_id and sku are required');
        RETURN;
    END IF;
    INSERT INTO defective_returns(ticket_id, sku, line_no, qty, site, manufacturer, returned_at,
                                  return_id)
        VALUES (e->>'ticket_id', e->>'sku', nullif(e->>'line_no', '')::int,
                greatest(coalesce((e->>'qty')::int, 1), 1), e->>'site', e->>'manufacturer',
                coalesce(e->>'returned_at', ''), nullif(e->>'return_id', ''))
        ON CONFLICT DO NOTHING;
    IF FOUND THEN
        PERFORM audit_write('{"role": "service", "subject": "settlement"}', NULL,
                            'defective_returned', 'ticket', e->>'ticket_id',
                            jsonb_strip_nulls(jsonb_build_object('sku', e->>'sku', 'qty', e->'qty',
                                'line_no', e->'line_no', 'return_id', e->>'return_id')));
    END IF;
EXCEPTION WHEN data_exception THEN
    PERFORM reject_event('parts.DefectiveReturnRecorded', e, SQLERRM);
END $$;

CREATE FUNCTION on_defective_return_owed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'return_id', '') = '' OR coalesce(e->>'ticket_id', '') = ''
       OR coalesce(e->>'sku', '') = '' THEN
        PERFORM reject_event('parts.DefectiveReturnOwed', e, 'return_id, ticket_id and sku are required');
        RETURN;
    END IF;
    INSERT INTO returns_owed(return_id, ticket_id, sku, line_no, qty, site, manufacturer, due_date)
        VALUES (e->>'return_id', e->>'ticket_id', e->>'sku', nullif(e->>'line_no', '')::int,
                greatest(coalesce((e->>'qty')::int, 1), 1), e->>'site', e->>'manufacturer',
                nullif(e->>'due_date', '')::date)
        ON CONFLICT DO NOTHING;
EXCEPTION WHEN data_exception THEN
    PERFORM reject_event('parts.DefectiveReturnOwed', e, SQLERRM);
END $$;

-- =============================================================================================
-- Commands (through exec_command: idempotent by request id, reply stored with the effect)
-- =============================================================================================

CREATE FUNCTION cmd_submit_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    w record;
    v_waiting int[];
    v_first claim_lines;
    v_next text;
    v_left int;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state <> 'open' THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    END IF;
    SELECT array_agg(l.line_no ORDER BY l.line_no) INTO v_waiting FROM claim_lines l
        WHERE l.claim_id = c.id AND NOT claim_line_returned(l);
    IF v_waiting IS NOT NULL AND NOT coalesce((a->>'defer_waiting')::boolean, false) THEN
        SELECT * INTO v_first FROM claim_lines WHERE claim_id = c.id AND line_no = v_waiting[1];
        PERFORM fail(409, 'defective_return_missing', format(
            'claim line %s (ticket %s, part %s) cannot be submitted before its defective part is returned%s',
            v_first.line_no, v_first.ticket_id, v_first.code,
            CASE WHEN cardinality(v_waiting) > 1
                 THEN format('; lines waiting: %s', array_to_string(v_waiting, ', ')) ELSE '' END));
    END IF;
    SELECT count(*) INTO v_left FROM claim_lines
        WHERE claim_id = c.id AND NOT (line_no = ANY (coalesce(v_waiting, '{}')));
    IF v_left = 0 THEN
        PERFORM fail(409, 'empty_claim', format('claim %s has no line that can be submitted', c.id));
    END IF;
    UPDATE claims SET state = 'submitted', submitted_at = now() WHERE id = c.id AND state = 'open';
    IF v_waiting IS NOT NULL THEN
        -- The waiting lines move to the next batch of the same manufacturer and month.
        v_next := open_claim(c.manufacturer, c.period);
        FOR w IN SELECT l.line_no, row_number() OVER (ORDER BY l.line_no) AS rn
                 FROM claim_lines l WHERE l.claim_id = c.id AND l.line_no = ANY (v_waiting) LOOP
            UPDATE claim_lines SET claim_id = v_next,
                line_no = (SELECT coalesce(max(line_no), 0) + 1 FROM claim_lines WHERE claim_id = v_next)
                WHERE claim_id = c.id AND line_no = w.line_no;
        END LOOP;
        PERFORM claim_recount(v_next);
        PERFORM claim_recount(c.id);
    END IF;
    UPDATE claim_lines SET state = 'submitted' WHERE claim_id = c.id AND state = 'open';
    SELECT * INTO c FROM claims WHERE id = c.id;
    PERFORM audit_write(p_principal, p_req, 'submit', 'claim', c.id,
                        jsonb_build_object('claimed_cents', c.claimed_cents, 'deferred_lines',
                                           to_jsonb(v_waiting), 'deferred_to', v_next));
    PERFORM emit('settlement', 'settlement.ClaimSubmitted', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period,
        'lines', (SELECT count(*) FROM claim_lines WHERE claim_id = c.id),
        'claimed_cents', c.claimed_cents, 'currency', c.currency), p_req);
    RETURN jsonb_build_object('status', 200, 'body',
                              claim_json(c, true) || jsonb_strip_nulls(jsonb_build_object('deferred_to', v_next)));
END $$;

CREATE FUNCTION cmd_decide_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    l claim_lines;
    d jsonb;
    v_approved bigint;
    v_state text;
    v_reason text;
    v_missing int[] := '{}';
    v_unknown int;
    v_dup int;
    v_total_ok bigint;
    v_claimed bigint;
    v_entry bigint;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state <> 'submitted' THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    END IF;
    SELECT min((x->>'line_no')::int) INTO v_unknown FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
        WHERE NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                          AND line_no = (x->>'line_no')::int);
    IF v_unknown IS NOT NULL THEN
        PERFORM fail(422, 'unknown_line', format('claim %s has no line %s', c.id, v_unknown));
    END IF;
    SELECT min(n) INTO v_dup FROM (SELECT (x->>'line_no')::int AS n FROM
        jsonb_array_elements(coalesce(a->'lines', '[]')) x GROUP BY 1 HAVING count(*) > 1) t;
    IF v_dup IS NOT NULL THEN
        PERFORM fail(422, 'duplicate_line', format('line %s is decided twice', v_dup));
    END IF;
    FOR l IN SELECT * FROM claim_lines WHERE claim_id = c.id ORDER BY line_no LOOP
        SELECT x INTO d FROM jsonb_array_elements(coalesce(a->'lines', '[]')) x
            WHERE (x->>'line_no')::int = l.line_no;
        v_reason := nullif(btrim(d->>'reason'), '');
        IF d IS NULL THEN
            IF NOT coalesce((a->>'approve_others')::boolean, false) THEN
                v_missing := v_missing || l.line_no;
                CONTINUE;
            END IF;
            v_approved := l.claimed_cents;
        ELSIF d->>'approved' = 'false' THEN
            v_approved := 0;
        ELSE
            v_approved := coalesce((d->>'approved_cents')::bigint, l.claimed_cents);
        END IF;
        IF v_approved > l.claimed_cents THEN
            PERFORM fail(422, 'over_approved', format('line %s: %s approved but %s claimed',
                                                      l.line_no, v_approved, l.claimed_cents));
        END IF;
        v_state := CASE WHEN v_approved = l.claimed_cents AND l.claimed_cents > 0 THEN 'approved'
                        WHEN v_approved = 0 AND l.claimed_cents > 0 THEN 'rejected'
                        WHEN l.claimed_cents = 0 THEN 'approved'
                        ELSE 'partially_approved' END;
        IF v_state IN ('rejected', 'partially_approved') AND v_reason IS NULL THEN
            PERFORM fail(422, 'reason_required', format('line %s is %s: give the reason', l.line_no,
                                                        replace(v_state, '_', ' ')));
        END IF;
        UPDATE claim_lines SET state = v_state, approved_cents = v_approved, reason = v_reason
            WHERE claim_id = c.id AND line_no = l.line_no AND state = 'submitted';
    END LOOP;
    IF cardinality(v_missing) > 0 THEN
        PERFORM fail(422, 'undecided_lines', format(
            'lines %s have no decision (decide every line, or set approve_others)',
            array_to_string(v_missing, ', ')));
    END IF;
    SELECT coalesce(sum(approved_cents), 0), coalesce(sum(claimed_cents), 0) INTO v_total_ok, v_claimed
        FROM claim_lines WHERE claim_id = c.id;
    v_state := CASE WHEN NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                                     AND state <> 'approved') THEN 'approved'
                    WHEN NOT EXISTS (SELECT 1 FROM claim_lines WHERE claim_id = c.id
                                     AND state <> 'rejected') THEN 'rejected'
                    ELSE 'partially_approved' END;
    UPDATE claims SET state = v_state, approved_cents = v_total_ok, decided_at = now()
        WHERE id = c.id AND state = 'submitted' RETURNING * INTO c;
    -- Approved amounts become receivable; rejected ones are written off.
    v_entry := post_entry('claim-decision:' || c.id, 'claim_decision', today_sh(),
        format('manufacturer decision on claim %s (%s)', c.id, v_state),
        jsonb_build_array(
            jsonb_build_object('account', '1123', 'debit', v_total_ok, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer),
            jsonb_build_object('account', '6602', 'debit', v_claimed - v_total_ok,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer),
            jsonb_build_object('account', '1124', 'credit', v_claimed, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer)),
        NULL, NULL, c.id, NULL, p_principal, p_req);
    PERFORM audit_write(p_principal, p_req, 'decide', 'claim', c.id, jsonb_build_object(
        'state', v_state, 'approved_cents', v_total_ok, 'claimed_cents', v_claimed, 'entry', v_entry));
    PERFORM emit('settlement', 'settlement.ClaimDecided', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period, 'state', v_state,
        'claimed_cents', v_claimed, 'approved_cents', v_total_ok), p_req);
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

CREATE FUNCTION cmd_pay_claim(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c claims;
    v_paid bigint;
    v_date date;
    v_entry bigint;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id' FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    IF c.state NOT IN ('approved', 'partially_approved') THEN
        PERFORM fail(409, 'illegal_transition', format('claim %s is in state %s', c.id, c.state));
    END IF;
    v_paid := coalesce((a->>'paid_cents')::bigint, c.approved_cents);
    IF v_paid <= 0 OR v_paid > c.approved_cents THEN
        PERFORM fail(422, 'bad_amount', format('paid_cents must be 1..%s (the approved amount)',
                                               c.approved_cents));
    END IF;
    v_date := coalesce((a->>'paid_date')::date, today_sh());
    IF v_date > today_sh() THEN
        PERFORM fail(422, 'future_date', 'paid_date is in the future');
    END IF;
    UPDATE claims SET state = 'paid', paid_cents = v_paid, paid_date = v_date, paid_at = now(),
                      reference = nullif(a->>'reference', '')
        WHERE id = c.id AND state IN ('approved', 'partially_approved') RETURNING * INTO c;
    UPDATE claim_lines SET state = 'paid'
        WHERE claim_id = c.id AND state IN ('approved', 'partially_approved');
    -- Cash in; a short payment is written off.
    v_entry := post_entry('claim-payment:' || c.id, 'claim_payment', v_date,
        format('payment of claim %s%s', c.id, coalesce(' ref ' || c.reference, '')),
        jsonb_build_array(
            jsonb_build_object('account', '1001', 'debit', v_paid, 'payer', 'manufacturer',
                               'manufacturer', c.manufacturer),
            jsonb_build_object('account', '6602', 'debit', c.approved_cents - v_paid,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer),
            jsonb_build_object('account', '1123', 'credit', c.approved_cents,
                               'payer', 'manufacturer', 'manufacturer', c.manufacturer)),
        NULL, NULL, c.id, NULL, p_principal, p_req);
    PERFORM audit_write(p_principal, p_req, 'pay', 'claim', c.id, jsonb_build_object(
        'paid_cents', v_paid, 'paid_date', v_date, 'entry', v_entry));
    PERFORM emit('settlement', 'settlement.ClaimPaid', jsonb_build_object(
        'claim_id', c.id, 'manufacturer', c.manufacturer, 'period', c.period,
        'paid_cents', v_paid, 'paid_date', v_date::text, 'reference', c.reference), p_req);
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

CREATE FUNCTION cmd_close_period(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_p text := a->>'period';
    p periods;
BEGIN
    PERFORM require_finance(p_principal);
    IF NOT is_period(v_p) THEN
        PERFORM fail(400, 'validation', 'period must be YYYY-MM');
    END IF;
    IF (period_start(v_p) + interval '1 month')::date > today_sh() THEN
        PERFORM fail(409, 'period_not_ended', format('period %s has not ended yet', v_p));
    END IF;
    INSERT INTO periods(period) VALUES (v_p) ON CONFLICT DO NOTHING;
    UPDATE periods SET state = 'closed', closed_at = now(),
                       closed_by = coalesce(p_principal->>'subject', 'unknown')
        WHERE period = v_p AND state = 'open' RETURNING * INTO p;
    IF NOT FOUND THEN
        PERFORM fail(409, 'illegal_transition', format('period %s is already closed', v_p));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'close', 'period', v_p, '{}');
    PERFORM emit('settlement', 'settlement.PeriodClosed', jsonb_build_object(
        'period', v_p, 'closed_by', p.closed_by, 'closed_at', ts_text(p.closed_at)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', period_json(p));
END $$;

CREATE FUNCTION cmd_reverse_entry(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e journal_entries;
    v_no bigint;
    v_reason text := nullif(btrim(a->>'reason'), '');
BEGIN
    PERFORM require_finance(p_principal);
    IF v_reason IS NULL THEN
        PERFORM fail(400, 'validation', 'reason is required');
    END IF;
    SELECT * INTO e FROM journal_entries WHERE entry_no = (a->>'id')::bigint;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('entry %s not found', a->>'id'));
    END IF;
    IF e.kind = 'reversal' THEN
        PERFORM fail(409, 'illegal_transition', format('entry %s is itself a reversal', e.entry_no));
    END IF;
    IF EXISTS (SELECT 1 FROM journal_entries WHERE reverses = e.entry_no) THEN
        PERFORM fail(409, 'illegal_transition', format('entry %s is already reversed', e.entry_no));
    END IF;
    v_no := post_entry('reversal:' || e.entry_no, 'reversal', today_sh(),
        format('reversal of entry %s: %s', e.entry_no, v_reason),
        (SELECT jsonb_agg(jsonb_build_object(
             'account', l.account, 'debit', l.credit_cents, 'credit', l.debit_cents,
             'ticket_id', l.ticket_id, 'center', l.center, 'region', l.region,
             'manufacturer', l.manufacturer, 'payer', l.payer) ORDER BY l.line_no)
         FROM journal_lines l WHERE l.entry_no = e.entry_no),
        e.ticket_id, e.invoice_no, e.claim_id, e.entry_no, p_principal, p_req);
    PERFORM audit_write(p_principal, p_req, 'reverse', 'entry', e.entry_no::text,
                        jsonb_build_object('reversal', v_no, 'reason', v_reason));
    RETURN jsonb_build_object('status', 201, 'body',
                              (SELECT entry_json(r) FROM journal_entries r WHERE r.entry_no = v_no));
END $$;

-- =============================================================================================
-- Reads (called directly, not through exec_command: nothing to make idempotent, nothing stored)
-- Signature: read_x(principal jsonb, args jsonb) RETURNS jsonb {"status", "body"}.
-- =============================================================================================

CREATE FUNCTION read_charges(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    cs charge_sets;
BEGIN
    SELECT * INTO cs FROM charge_sets WHERE ticket_id = a->>'ticket_id';
    IF NOT FOUND OR NOT may_see(p_principal, cs.center, cs.region) THEN
        PERFORM fail(404, 'not_found', format('no charges for ticket %s', a->>'ticket_id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', charge_set_json(cs));
END $$;

CREATE FUNCTION read_invoice(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    i invoices;
    v_region text;
BEGIN
    SELECT * INTO i FROM invoices WHERE invoice_no = a->>'invoice_no';
    SELECT region INTO v_region FROM charge_sets WHERE ticket_id = i.ticket_id;
    IF i.invoice_no IS NULL OR NOT may_see(p_principal, i.center, v_region) THEN
        PERFORM fail(404, 'not_found', format('invoice %s not found', a->>'invoice_no'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', invoice_json(i));
END $$;

CREATE FUNCTION read_invoices(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 100), 1), 500);
    v_rows jsonb;
    v_n int;
BEGIN
    WITH page AS (
        SELECT i FROM invoices i JOIN charge_sets cs USING (ticket_id)
        WHERE may_see(p_principal, i.center, cs.region)
          AND (a->>'center' IS NULL OR i.center = a->>'center')
          AND (a->>'year' IS NULL OR i.year = (a->>'year')::int)
          AND (a->>'after' IS NULL OR i.invoice_no > a->>'after')
        ORDER BY i.invoice_no LIMIT v_limit)
    SELECT coalesce(jsonb_agg(invoice_json(page.i) ORDER BY (page.i).invoice_no), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'invoices', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'invoice_no' END)));
END $$;

CREATE FUNCTION read_claim(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c claims;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO c FROM claims WHERE id = a->>'id';
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('claim %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', claim_json(c, true));
END $$;

CREATE FUNCTION read_claims(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_rows jsonb;
    v_n int;
BEGIN
    PERFORM require_finance(p_principal);
    WITH page AS (
        SELECT c FROM claims c
        WHERE (a->>'manufacturer' IS NULL OR c.manufacturer = a->>'manufacturer')
          AND (a->>'period' IS NULL OR c.period = a->>'period')
          AND (a->>'state' IS NULL OR c.state = a->>'state')
          AND (a->>'after' IS NULL OR c.id > a->>'after')
        ORDER BY c.id LIMIT v_limit)
    SELECT coalesce(jsonb_agg(claim_json(page.c, false) ORDER BY (page.c).id), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'claims', v_rows, 'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END)));
END $$;

CREATE FUNCTION read_periods(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('periods',
        (SELECT coalesce(jsonb_agg(period_json(p) ORDER BY p.period), '[]') FROM periods p)));
END $$;

CREATE FUNCTION read_entry(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    e journal_entries;
BEGIN
    PERFORM require_finance(p_principal);
    SELECT * INTO e FROM journal_entries WHERE entry_no = (a->>'id')::bigint;
    IF NOT FOUND THEN
        PERFORM fail(404, 'not_found', format('entry %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', entry_json(e));
END $$;

-- Trial balance over posting dates (a period, or from..to, or everything).
CREATE FUNCTION read_balance(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_from date := (a->>'from')::date;
    v_to date := (a->>'to')::date;
    v_body jsonb;
BEGIN
    PERFORM require_finance(p_principal);
    WITH sel AS (
        SELECT l.* FROM journal_entries e JOIN journal_lines l USING (entry_no)
        WHERE (a->>'period' IS NULL OR e.posting_period = a->>'period')
          AND (v_from IS NULL OR e.posting_date >= v_from)
          AND (v_to IS NULL OR e.posting_date <= v_to)),
    acc AS (
        SELECT a2.code, a2.name, a2.kind, coalesce(sum(s.debit_cents), 0) AS d,
               coalesce(sum(s.credit_cents), 0) AS c
        FROM accounts a2 LEFT JOIN sel s ON s.account = a2.code
        GROUP BY a2.code, a2.name, a2.kind)
    SELECT jsonb_build_object(
        'accounts', coalesce(jsonb_agg(jsonb_build_object(
            'account', code, 'name', name, 'kind', kind, 'debit_cents', d, 'credit_cents', c,
            'balance_cents', d - c) ORDER BY code), '[]'),
        'debit_cents', coalesce(sum(d), 0), 'credit_cents', coalesce(sum(c), 0),
        'entries', (SELECT count(DISTINCT entry_no) FROM sel),
        'balanced', coalesce(sum(d), 0) = coalesce(sum(c), 0))
        INTO v_body FROM acc;
    RETURN jsonb_build_object('status', 200, 'body', v_body);
END $$;

-- One page of the finance export: journal lines in (entry, line) order after the cursor
-- "<entry_no>.<line_no>", up to entry `upto` (the head when the export started), filtered by
-- posting date. Finance only.
CREATE FUNCTION read_export_page(p_principal jsonb, a jsonb) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 500), 1), 2000);
    v_from date := (a->>'from')::date;
    v_to date := (a->>'to')::date;
    v_after_e bigint := 0;
    v_after_l int := 0;
    v_upto bigint;
    v_rows json;
    v_last text;
    v_n int;
BEGIN
    IF coalesce(p_principal->>'role', '') NOT IN ('finance', 'service') THEN
        PERFORM fail(403, 'forbidden', 'the finance export is for finance only');
    END IF;
    IF coalesce(a->>'after', '') <> '' THEN
        IF a->>'after' !~ '^[0-9]{1,18}\.[0-9]{1,9}$' THEN
            PERFORM fail(400, 'bad_cursor', 'after must be a cursor from an earlier export');
        END IF;
        v_after_e := split_part(a->>'after', '.', 1)::bigint;
        v_after_l := split_part(a->>'after', '.', 2)::int;
    END IF;
    v_upto := coalesce((a->>'upto')::bigint, (SELECT last_no FROM ledger_head));
    -- json, not jsonb: a page is built once and passed on, never queried; null columns read
    -- as absent fields on the way to protobuf.
    SELECT coalesce(json_agg(page ORDER BY page.entry_no, page.line_no), '[]'), count(*),
           (array_agg(page.cursor ORDER BY page.entry_no DESC, page.line_no DESC))[1]
        INTO v_rows, v_n, v_last
        FROM (SELECT l.entry_no || '.' || l.line_no AS cursor, l.entry_no, l.line_no,
                     e.business_date, e.posting_date, e.posting_period, e.kind, l.account,
                     ac.name AS account_name, l.debit_cents, l.credit_cents, e.currency,
                     coalesce(l.ticket_id, e.ticket_id) AS ticket_id, e.invoice_no, e.claim_id,
                     l.center, l.region, l.manufacturer, l.payer, e.memo, e.reverses
              FROM journal_lines l
              JOIN journal_entries e ON e.entry_no = l.entry_no
              JOIN accounts ac ON ac.code = l.account
              WHERE (l.entry_no, l.line_no) > (v_after_e, v_after_l) AND l.entry_no <= v_upto
                AND e.entry_no >= v_after_e AND e.entry_no <= v_upto
                AND (v_from IS NULL OR e.posting_date >= v_from)
                AND (v_to IS NULL OR e.posting_date <= v_to)
              ORDER BY l.entry_no, l.line_no
              LIMIT v_limit) page;
    RETURN json_build_object('status', 200, 'body', json_build_object(
        'rows', v_rows, 'head', v_upto, 'next', CASE WHEN v_n = v_limit THEN v_last END));
END $$;

-- Cost analysis over charge sets by business date, grouped by region, centre or cause (every
-- cause category is listed, with zeros). Finance and admin see everything, a region manager
-- their region.
CREATE FUNCTION read_costs(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_group text := coalesce(a->>'group', 'cause');
    v_from date := (a->>'from')::date;
    v_to date := (a->>'to')::date;
    v_rows jsonb;
    v_total jsonb;
BEGIN
    IF NOT is_finance(p_principal) AND coalesce(p_principal->>'role', '') <> 'region' THEN
        PERFORM fail(403, 'forbidden', 'cost analysis is for finance and regional managers');
    END IF;
    IF v_group NOT IN ('region', 'center', 'cause') THEN
        PERFORM fail(400, 'validation', 'group must be region, center or cause');
    END IF;
    WITH base AS (
        SELECT cs.*, CASE v_group WHEN 'region' THEN coalesce(cs.region, '-')
                                  WHEN 'center' THEN cs.center ELSE cs.cause END AS key
        FROM charge_sets cs
        WHERE may_see(p_principal, cs.center, cs.region)
          AND (v_from IS NULL OR cs.business_date >= v_from)
          AND (v_to IS NULL OR cs.business_date <= v_to)),
    per_ticket AS (
        SELECT b.key, b.ticket_id, b.customer_cents, b.manufacturer_cents, b.company_cents,
               b.seller_cents,
               coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'labour'), 0) AS labour,
               coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'part'), 0) AS parts,
               coalesce(sum(l.amount_cents) FILTER (WHERE l.kind = 'fee'), 0) AS fees,
               coalesce(sum(l.cost_cents) FILTER (WHERE l.kind = 'part'), 0) AS parts_cost
        FROM base b LEFT JOIN charge_lines l ON l.ticket_id = b.ticket_id
        GROUP BY b.key, b.ticket_id, b.customer_cents, b.manufacturer_cents, b.company_cents,
                 b.seller_cents),
    keys AS (
        SELECT k AS key FROM unnest(ARRAY['service_station', 'customer_visit', 'design_quality',
                                          'manufacturing_quality', 'parts_problem', 'other']) k
        WHERE v_group = 'cause'
        UNION SELECT DISTINCT key FROM per_ticket),
    g AS (
        SELECT k.key, count(t.ticket_id) AS tickets, coalesce(sum(t.labour), 0) AS labour,
               coalesce(sum(t.parts), 0) AS parts, coalesce(sum(t.fees), 0) AS fees,
               coalesce(sum(t.parts_cost), 0) AS parts_cost,
               coalesce(sum(t.customer_cents), 0) AS customer,
               coalesce(sum(t.manufacturer_cents), 0) AS manufacturer,
               coalesce(sum(t.company_cents), 0) AS company,
               coalesce(sum(t.seller_cents), 0) AS seller
        FROM keys k LEFT JOIN per_ticket t ON t.key = k.key
        GROUP BY k.key)
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'key', key, 'tickets', tickets, 'labour_cents', labour, 'parts_cents', parts,
               'fees_cents', fees, 'parts_cost_cents', parts_cost, 'customer_cents', customer,
               'manufacturer_cents', manufacturer, 'company_cents', company,
               'seller_cents', seller, 'warranty_cost_cents', manufacturer + company,
               'total_cost_cents', manufacturer + company + seller)
               ORDER BY CASE WHEN v_group = 'cause' THEN array_position(ARRAY['service_station',
                   'customer_visit', 'design_quality', 'manufacturing_quality', 'parts_problem',
                   'other'], key) END, key), '[]'),
           jsonb_build_object(
               'key', 'total', 'tickets', coalesce(sum(tickets), 0),
               'labour_cents', coalesce(sum(labour), 0), 'parts_cents', coalesce(sum(parts), 0),
               'fees_cents', coalesce(sum(fees), 0),
               'parts_cost_cents', coalesce(sum(parts_cost), 0),
               'customer_cents', coalesce(sum(customer), 0),
               'manufacturer_cents', coalesce(sum(manufacturer), 0),
               'company_cents', coalesce(sum(company), 0),
               'seller_cents', coalesce(sum(seller), 0),
               'warranty_cost_cents', coalesce(sum(manufacturer + company), 0),
               'total_cost_cents', coalesce(sum(manufacturer + company + seller), 0))
        INTO v_rows, v_total FROM g;
    RETURN jsonb_build_object('status', 200, 'body', jsonb_strip_nulls(jsonb_build_object(
        'group', v_group, 'from', v_from::text, 'to', v_to::text, 'rows', v_rows,
        'total', v_total, 'currency', currency())));
END $$;
