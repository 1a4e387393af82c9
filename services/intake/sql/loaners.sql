-- intake: loaners functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION on_loaner_lent(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET loaner_unit = e->>'serial'
        WHERE id = e->>'ticket_id' AND coalesce(e->>'serial', '') <> ''
          AND loaner_unit IS DISTINCT FROM e->>'serial'
          AND state NOT IN ('closed', 'refunded', 'exchanged', 'declined', 'cancelled', 'returned');
END $$;

CREATE OR REPLACE FUNCTION on_loaner_returned(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET loaner_unit = NULL
        WHERE id = e->>'ticket_id' AND loaner_unit = e->>'serial';
END $$;

-- Refuse p_action while the customer holds a loaner the request does not return.
CREATE OR REPLACE FUNCTION check_loaner(t tickets, a jsonb, p_action text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_unit text := nullif(a->>'loaner_unit', '');
BEGIN
    IF t.loaner_unit IS NOT NULL AND v_unit IS DISTINCT FROM t.loaner_unit THEN
        PERFORM fail(409, 'loaner_out',
                     format('the customer of ticket %s still holds loaner %s: take it back first, or give loaner_unit %s with the %s',
                            t.id, t.loaner_unit, t.loaner_unit, p_action));
    END IF;
    IF v_unit IS NOT NULL AND t.loaner_unit IS NULL THEN
        PERFORM fail(422, 'unknown_loaner', format('ticket %s holds no loaner unit %s', t.id, v_unit));
    END IF;
END $$;

-- The unit came back with the ticket: forget it here at once (parts confirms with LoanerReturned).
CREATE OR REPLACE FUNCTION loaner_back(t tickets) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    r tickets;
BEGIN
    IF t.loaner_unit IS NULL OR t.work->>'loaner_returned' IS DISTINCT FROM t.loaner_unit THEN
        RETURN t;
    END IF;
    UPDATE tickets SET loaner_unit = NULL WHERE id = t.id RETURNING * INTO r;
    RETURN r;
END $$;
