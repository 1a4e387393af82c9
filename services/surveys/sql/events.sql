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
    PERFORM schedule_proactive(e, v_closed, v_now); -- quality tracking, maintenance (340)
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

-- Proactive calls of a repaired ticket (issue 19.7): a quality-tracking call
-- `quality_tracking_days` after the close and, for a car or an appliance (category `general`), a
-- maintenance reminder `maintenance_days_<category>` after it (0 = none), each moved into
-- business hours, once per ticket and kind (proactive_calls). They are not surveys: the ticket's
-- one satisfaction callback is unchanged and no CallbackScheduled is published for them.
-- A car's reminder is due by date OR mileage, whichever comes first: with its odometer read at
-- intake (odometer_km, odometer_at) it is also due on the day the odometer is projected past
-- that reading + `maintenance_km_car`, at the car's measured km a day (km_per_day, from its
-- previous reading) or else `maintenance_km_per_day_car` — never before the close.
CREATE OR REPLACE FUNCTION schedule_proactive(e jsonb, p_closed timestamptz, p_now timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_region text := e->>'region';
    v_days bigint;
    v_due timestamptz;
    v_basis text;
    v_odo bigint;
    v_rate numeric;
    v_measured boolean;
    v_interval bigint;
    v_mile_due timestamptz;
    k text;
BEGIN
    IF coalesce(e->>'outcome', '') <> 'repaired' THEN
        RETURN;
    END IF;
    IF v_region IS NULL THEN
        SELECT c.region INTO v_region FROM centers c WHERE c.code = e->>'center';
    END IF;
    FOREACH k IN ARRAY ARRAY['quality_tracking', 'maintenance'] LOOP
        v_days := CASE WHEN k = 'quality_tracking' THEN setting('quality_tracking_days')
                       WHEN e->>'category' IN ('car', 'general')
                       THEN setting('maintenance_days_' || (e->>'category')) END;
        v_due := NULL;
        v_basis := NULL;
        v_odo := NULL;
        v_rate := NULL;
        v_measured := NULL;
        v_mile_due := NULL;
        v_interval := NULL;
        IF coalesce(v_days, 0) > 0 THEN
            v_due := p_closed + make_interval(days => v_days::int);
            v_basis := CASE WHEN k = 'maintenance' THEN 'date' END;
        END IF;
        IF k = 'maintenance' AND e->>'category' = 'car' AND (e->>'odometer_km') IS NOT NULL
           AND coalesce(setting('maintenance_km_car'), 0) > 0 THEN
            v_odo := (e->>'odometer_km')::bigint;
            v_measured := coalesce((e->>'km_per_day')::numeric, 0) > 0;
            v_rate := CASE WHEN v_measured THEN (e->>'km_per_day')::numeric
                           ELSE greatest(coalesce(setting('maintenance_km_per_day_car'), 40), 1) END;
            v_interval := setting('maintenance_km_car');
            v_mile_due := greatest(p_closed,
                                   coalesce((e->>'odometer_at')::timestamptz, p_closed)
                                   + make_interval(days => ceil(v_interval / v_rate)::int));
            IF v_due IS NULL OR v_mile_due < v_due THEN
                v_due := v_mile_due;
                v_basis := 'mileage';
            END IF;
        END IF;
        CONTINUE WHEN v_due IS NULL;
        INSERT INTO proactive_calls(id, kind, ticket_id, center, region, customer_name,
                                    customer_phone, category, brand, closed_at, due_at, created_at,
                                    basis, odometer_km, km_per_day, km_per_day_measured,
                                    due_odometer_km)
        SELECT 'PC' || lpad(nextval('proactive_no')::text, 8, '0'), k, e->>'ticket_id',
               e->>'center', v_region, e#>>'{customer,name}', e#>>'{customer,phone}',
               e->>'category', e->>'brand', p_closed, into_business_hours(v_due), p_now,
               v_basis, v_odo, v_rate, v_measured, v_odo + v_interval
        ON CONFLICT (ticket_id, kind) DO NOTHING;
    END LOOP;
END $$;

-- The due timer's proactive step: every maintenance reminder now due and not yet published is
-- published once (surveys.MaintenanceDue, for notify). Returns how many.
CREATE OR REPLACE FUNCTION reminders_due() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    pc proactive_calls;
    v_now timestamptz := svc_now();
    v_n int := 0;
BEGIN
    FOR pc IN SELECT * FROM proactive_calls
              WHERE kind = 'maintenance' AND notified_at IS NULL AND due_at <= v_now
              ORDER BY due_at, id FOR UPDATE SKIP LOCKED LOOP
        UPDATE proactive_calls SET notified_at = v_now WHERE id = pc.id;
        PERFORM emit('surveys', 'surveys.MaintenanceDue', jsonb_strip_nulls(jsonb_build_object(
            'call_id', pc.id, 'ticket_id', pc.ticket_id, 'center', pc.center,
            'region', pc.region, 'category', pc.category, 'brand', pc.brand,
            'basis', pc.basis, 'due_odometer_km', pc.due_odometer_km,
            'due_at', to_char(pc.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))));
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END $$;

-- The proactive calls due by the end of p_date and not done that the caller may see (the
-- desk's list).
CREATE OR REPLACE FUNCTION proactive_due_json(p_principal jsonb, a jsonb, p_date date, p_limit int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(phone_for(p_principal, proactive_json(x)) ORDER BY x.due_at, x.id), '[]')
    FROM (SELECT * FROM proactive_calls pc
          WHERE pc.due_at < day_start(p_date + 1) AND pc.done_at IS NULL
            AND may_see(p_principal, pc.center, pc.region)
            AND (a->>'center' IS NULL OR pc.center = a->>'center')
            AND (a->>'ticket_id' IS NULL OR pc.ticket_id = a->>'ticket_id')
          ORDER BY pc.due_at, pc.id LIMIT p_limit) x
$$;

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

CREATE OR REPLACE FUNCTION on_center_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO regions(code, name) VALUES (e->'center'->>'region', e->'center'->>'region')
    ON CONFLICT DO NOTHING;
    INSERT INTO centers(code, name, region)
    VALUES (e->'center'->>'code', e->'center'->>'name', e->'center'->>'region')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, region = EXCLUDED.region;
$$;

-- PL/pgSQL: a SQL function of two statements is never inlined and was planned again on every
-- call (decision 36).
CREATE OR REPLACE FUNCTION on_customer_linked(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO NOTHING;
    INSERT INTO ticket_tiers(ticket_id, customer_id) VALUES (e->>'ticket_id', e->>'customer_id')
    ON CONFLICT (ticket_id) DO NOTHING;
END $$;

-- The per-ticket events of intake's stream as the consumer collects them (decision 36): an
-- array of {type, payload} (intake.CustomerLinked, intake.TicketOpened) applied in order by
-- the functions above, one statement for the batch instead of two per event.
CREATE OR REPLACE FUNCTION on_intake_events(p_stream text, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT x.value, x.n FROM jsonb_array_elements(p) WITH ORDINALITY AS x(value, n)
              ORDER BY x.n LOOP
        IF e.value->>'type' = 'intake.CustomerLinked' THEN
            PERFORM on_customer_linked(e.value->'payload');
        ELSIF e.value->>'type' = 'intake.TicketOpened' THEN
            PERFORM on_ticket_opened(e.value->'payload');
        END IF;
    END LOOP;
END $$;

-- intake.CustomerChanged: the tier follows; an erased customer's name and phone go from the
-- callbacks, complaints and ticket links of its tickets (those the event names and those
-- CustomerLinked tied to it), and one audit row says so.
CREATE OR REPLACE FUNCTION on_customer_changed(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_tickets text[];
    v_n int := 0;
    v_k int;
BEGIN
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,
                                            account_owner = EXCLUDED.account_owner;
    IF e->>'change' IS DISTINCT FROM 'erased' THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(DISTINCT t), '{}') INTO v_tickets FROM (
        SELECT jsonb_array_elements_text(coalesce(e->'ticket_ids', '[]')) AS t
        UNION SELECT ticket_id FROM ticket_tiers WHERE customer_id = e->>'customer_id') x;
    UPDATE callbacks SET customer_name = NULL, customer_phone = NULL, updated_at = now()
        WHERE ticket_id = ANY (v_tickets) AND (customer_name IS NOT NULL OR customer_phone IS NOT NULL);
    GET DIAGNOSTICS v_k = ROW_COUNT;
    v_n := v_n + v_k;
    UPDATE complaints SET customer_name = NULL, customer_phone = NULL
        WHERE ticket_id = ANY (v_tickets) AND (customer_name IS NOT NULL OR customer_phone IS NOT NULL);
    GET DIAGNOSTICS v_k = ROW_COUNT;
    v_n := v_n + v_k;
    UPDATE ticket_customers SET customer_name = NULL, customer_phone = NULL
        WHERE ticket_id = ANY (v_tickets) AND (customer_name IS NOT NULL OR customer_phone IS NOT NULL);
    GET DIAGNOSTICS v_k = ROW_COUNT;
    v_n := v_n + v_k;
    PERFORM audit_write(jsonb_build_object('role', 'service', 'subject', 'intake'), NULL, 'erase',
                        'customer', e->>'customer_id',
                        jsonb_build_object('tickets', cardinality(v_tickets), 'rows', v_n));
END $$;

CREATE OR REPLACE FUNCTION on_call_logged(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
    v_center text := nullif(e->>'center', '');
    v_region text;
BEGIN
    IF e->'complaint' IS NULL OR EXISTS (SELECT 1 FROM call_complaints WHERE call_id = e->>'call_id') THEN
        RETURN;
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            v_center := NULL; -- a centre surveys does not know yet: head office takes it
        END IF;
    END IF;
    c := complaint_create('call:' || (e->>'call_id'),
                          jsonb_build_object('role', 'service', 'subject', coalesce(e->>'agent', 'hotline')),
                          CASE e->>'channel' WHEN 'hotline_12315' THEN 'hotline_12315'
                                             WHEN 'wechat' THEN 'online' WHEN 'online' THEN 'online'
                                             ELSE 'phone' END,
                          nullif(e->>'ticket_id', ''), v_center, v_region,
                          coalesce(nullif(e->'complaint'->>'cause', ''), 'other'),
                          coalesce(nullif(e->'complaint'->>'description', ''), e->>'summary', 'hotline call'),
                          nullif(e->'customer'->>'name', ''), nullif(e->'customer'->>'phone', ''),
                          'manual', NULL);
    INSERT INTO call_complaints(call_id, complaint_id) VALUES (e->>'call_id', c.id);
    PERFORM emit('surveys', 'surveys.CallComplaintOpened', jsonb_strip_nulls(jsonb_build_object(
        'call_id', e->>'call_id', 'complaint_id', c.id, 'center', c.center, 'region', c.region)));
END $$;
