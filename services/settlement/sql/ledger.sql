-- settlement: ledger functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Balance, checked at commit (deferred), whoever inserts: debits = credits per entry, and an
-- entry has at least two lines.
CREATE OR REPLACE FUNCTION journal_check_entry(p_entry bigint) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION journal_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM journal_check_entry(NEW.entry_no);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS journal_entries_balanced ON journal_entries;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entries_balanced();

CREATE OR REPLACE FUNCTION journal_lines_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM journal_check_entry(NEW.entry_no);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS journal_lines_balanced ON journal_lines;
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_lines_balanced();

-- Append-only: corrections are reversal entries, never edits.
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed (post a reversal)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END $$;

CREATE OR REPLACE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE OR REPLACE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE OR REPLACE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE OR REPLACE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Post one balanced entry. p_lines: [{account, debit, credit, ticket_id, center, region,
-- manufacturer, payer}], zero lines dropped. Idempotent by p_key: a second call with the same
-- key returns the first entry's number and posts nothing. Returns NULL when nothing is left to
-- post (all amounts zero). Refuses (500) an unbalanced or one-sided set: that is a bug.
CREATE OR REPLACE FUNCTION post_entry(p_key text, p_kind text, p_date date, p_memo text, p_lines jsonb,
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

CREATE OR REPLACE FUNCTION entry_json(e journal_entries) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
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
                  WHERE l.entry_no = e.entry_no)));
END $$;

CREATE OR REPLACE FUNCTION cmd_reverse_entry(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION read_entry(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
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
CREATE OR REPLACE FUNCTION read_balance(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
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
CREATE OR REPLACE FUNCTION read_export_page(p_principal jsonb, a jsonb) RETURNS json
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
CREATE OR REPLACE FUNCTION read_costs(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
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

-- The accounts of a valued movement: (debit, credit).
CREATE OR REPLACE FUNCTION stock_accounts(p_kind text, p_bucket text, p_direction int,
                               OUT debit text, OUT credit text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_kind = 'opening' THEN
        debit := CASE p_bucket WHEN 'stock' THEN '1405' WHEN 'defective' THEN '1407'
                               WHEN 'transit' THEN '1406' END;
        credit := '2202';
    ELSIF p_kind = 'receipt' AND p_bucket = 'stock' AND p_direction = 1 THEN
        debit := '1405'; credit := '2202';
    ELSIF p_kind = 'issue' AND p_bucket = 'stock' AND p_direction = -1 THEN
        debit := '6401'; credit := '1405';
    ELSIF p_kind = 'transfer_out' AND p_bucket = 'stock' AND p_direction = -1 THEN
        debit := '1406'; credit := '1405';
    ELSIF p_kind = 'transfer_in' AND p_bucket = 'stock' AND p_direction = 1 THEN
        debit := '1405'; credit := '1406';
    ELSIF p_kind = 'transit_loss' THEN
        debit := '6402'; credit := '1406';
    ELSIF p_kind IN ('adjustment', 'scrap') AND p_bucket = 'stock' THEN
        IF p_direction = 1 THEN
            debit := '1405'; credit := '6402';
        ELSE
            debit := '6402'; credit := '1405';
        END IF;
    ELSIF p_kind = 'scrap' AND p_bucket = 'defective' AND p_direction = -1 THEN
        debit := '6402'; credit := '1407';
    ELSIF p_kind = 'defective_return' AND p_bucket = 'defective' AND p_direction = 1 THEN
        debit := '1407'; credit := '6402';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION post_stock_valued(e jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_kind text := nullif(e->>'kind', '');
    v_bucket text := coalesce(nullif(e->>'bucket', ''), 'stock');
    v_dir int := coalesce((e->>'direction')::int, 0);
    v_value bigint := coalesce((e->>'value_cents')::bigint, 0);
    v_site text := nullif(e->>'site', '');
    v_sku text := nullif(e->>'sku', '');
    v_ticket text := nullif(e->>'ticket_id', '');
    v_key text;
    a record;
BEGIN
    IF v_kind IS NULL OR v_site IS NULL OR v_sku IS NULL THEN
        PERFORM fail(422, 'invalid_event', 'StockValued needs kind, site and sku');
    END IF;
    IF v_value < 0 THEN
        PERFORM fail(422, 'invalid_event', 'negative value');
    END IF;
    IF v_value = 0 THEN
        RETURN NULL;
    END IF;
    IF v_kind = 'opening' THEN
        v_key := format('stock-opening:%s:%s:%s:%s', v_site, v_sku, v_bucket,
                        coalesce(e->>'transfer_id', ''));
    ELSIF coalesce(e->>'movement_id', '') = '' THEN
        PERFORM fail(422, 'invalid_event', 'StockValued needs movement_id');
    ELSIF v_kind = 'transit_loss' THEN
        v_key := 'stock-loss:' || (e->>'movement_id');
    ELSE
        v_key := 'stock:' || (e->>'movement_id');
    END IF;
    SELECT * INTO a FROM stock_accounts(v_kind, v_bucket, v_dir);
    IF a.debit IS NULL THEN
        PERFORM fail(422, 'invalid_event',
                     format('StockValued of kind %s, bucket %s, direction %s has no posting',
                            v_kind, v_bucket, v_dir));
    END IF;
    RETURN post_entry(v_key, 'stock', business_date_of(e->>'at'),
        format('%s %s x %s at %s%s', v_kind, coalesce(e->>'qty', '-'), v_sku, v_site,
               CASE WHEN e->>'transfer_id' IS NOT NULL THEN ' (' || (e->>'transfer_id') || ')'
                    WHEN v_ticket IS NOT NULL THEN ' (' || v_ticket || ')' ELSE '' END),
        jsonb_build_array(
            jsonb_build_object('account', a.debit, 'debit', v_value, 'ticket_id', v_ticket,
                               'center', v_site),
            jsonb_build_object('account', a.credit, 'credit', v_value, 'ticket_id', v_ticket,
                               'center', v_site)),
        v_ticket);
END $$;

-- The handler the consumer calls for parts.StockValued. Malformed events are recorded in
-- event_rejects and skipped; anything else rolls back and the event is delivered again.
CREATE OR REPLACE FUNCTION on_stock_valued(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_detail text;
BEGIN
    PERFORM post_stock_valued(e);
EXCEPTION WHEN data_exception OR SQLSTATE 'AS422' THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    PERFORM reject_event('parts.StockValued', e, coalesce(nullif(v_detail, ''), SQLERRM));
END $$;

-- intake.CenterRewardPosted: a centre's market-maintenance reward for a scorecard period, booked
-- once per reward (source key "center-reward:RW…") as an expense payable to the centre.
CREATE OR REPLACE FUNCTION on_center_reward(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_amount bigint := coalesce((e->>'amount_cents')::bigint, 0);
BEGIN
    IF coalesce(e->>'reward_id', '') = '' OR v_amount <= 0 THEN
        RETURN;
    END IF;
    PERFORM post_entry('center-reward:' || (e->>'reward_id'), 'center_reward',
                       coalesce((e->>'business_date')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date),
                       format('market-maintenance reward %s for %s, %s..%s (score %s, weights v%s)',
                              e->>'reward_id', e->>'center', e->>'from', e->>'to', e->>'score',
                              e->>'weights_version'),
                       jsonb_build_array(
                           jsonb_build_object('account', '6604', 'debit', v_amount,
                                              'center', e->>'center', 'region', e->>'region'),
                           jsonb_build_object('account', '2243', 'credit', v_amount,
                                              'center', e->>'center', 'region', e->>'region',
                                              'payer', 'company')));
END $$;
