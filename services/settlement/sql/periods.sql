-- settlement: periods functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- Today as an Asia/Shanghai business date.
CREATE OR REPLACE FUNCTION today_sh() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- A business date from an event's instant ("2026-07-01T02:00:00Z") or date ("2026-07-01");
-- today when absent or unreadable (an event must not be lost over a malformed timestamp).
CREATE OR REPLACE FUNCTION business_date_of(p text) RETURNS date LANGUAGE plpgsql STABLE AS $$
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

CREATE OR REPLACE FUNCTION period_of(d date) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(d, 'YYYY-MM')
$$;

CREATE OR REPLACE FUNCTION period_start(p text) RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (p || '-01')::date
$$;

CREATE OR REPLACE FUNCTION is_period(p text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p ~ '^[0-9]{4}-(0[1-9]|1[0-2])$', false)
$$;

-- The first open period on or after the business date's own period; creates periods on demand.
-- Takes a share lock on that period row until commit, so a concurrent close waits for postings
-- in flight and postings after the close see it closed.
CREATE OR REPLACE FUNCTION posting_period_for(p_date date) RETURNS text LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION period_json(p periods) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'period', p.period, 'state', p.state, 'closed_at', ts_text(p.closed_at),
        'closed_by', p.closed_by,
        'entries', (SELECT count(*) FROM journal_entries e WHERE e.posting_period = p.period),
        'debit_cents', (SELECT coalesce(sum(l.debit_cents), 0) FROM journal_entries e
                        JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period),
        'credit_cents', (SELECT coalesce(sum(l.credit_cents), 0) FROM journal_entries e
                         JOIN journal_lines l USING (entry_no) WHERE e.posting_period = p.period)));
END $$;

CREATE OR REPLACE FUNCTION cmd_close_period(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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

CREATE OR REPLACE FUNCTION read_periods(p_principal jsonb, a jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM require_finance(p_principal);
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object('periods',
        (SELECT coalesce(jsonb_agg(period_json(p) ORDER BY p.period), '[]') FROM periods p)));
END $$;
