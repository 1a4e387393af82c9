-- surveys: events functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

-- intake.TicketClosed: schedule the satisfaction callback, once per ticket (a replay finds the
-- row and does nothing). Due `callback_delay_h` after the close, moved into business hours.
-- As in 101_fixes.sql, with the service clock and the centre's region read once each.
CREATE OR REPLACE FUNCTION on_ticket_closed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_now timestamptz := svc_now();
    v_closed timestamptz := coalesce((e->>'closed_at')::timestamptz,
                                     CASE WHEN e->>'closed_date' IS NOT NULL
                                          THEN day_start((e->>'closed_date')::date) + interval '12 hours' END,
                                     v_now);
    v_due timestamptz := into_business_hours(v_closed
                             + make_interval(hours => setting('callback_delay_h')::int));
    v_region text;
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN; -- nothing to call about
    END IF;
    IF EXISTS (SELECT 1 FROM callbacks WHERE ticket_id = e->>'ticket_id') THEN
        RETURN; -- a replay: the callback is already scheduled (the UNIQUE key guards as well)
    END IF;
    v_region := e->>'region';
    IF v_region IS NULL THEN
        SELECT c.region INTO v_region FROM centers c WHERE c.code = e->>'center';
    END IF;
    INSERT INTO callbacks(id, ticket_id, center, region, customer_name, customer_phone,
                          category, brand, outcome, closed_at, first_due_at, due_at,
                          max_attempts, created_at, updated_at)
    VALUES ('CB' || lpad(nextval('callback_no')::text, 8, '0'), e->>'ticket_id', e->>'center',
            v_region, e#>>'{customer,name}', e#>>'{customer,phone}', e->>'category', e->>'brand',
            e->>'outcome', v_closed, v_due, v_due, setting('callback_max_attempts')::int,
            v_now, v_now)
    ON CONFLICT (ticket_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.CallbackScheduled', jsonb_build_object(
            'callback_id', v_id, 'ticket_id', e->>'ticket_id', 'center', e->>'center',
            'region', v_region,
            'due_at', to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION on_ticket_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO ticket_customers(ticket_id, center, region, customer_name, customer_phone)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), nullif(e->>'region', ''),
                nullif(e#>>'{customer,name}', ''), nullif(e#>>'{customer,phone}', ''))
        ON CONFLICT (ticket_id) DO NOTHING;
END $$;
