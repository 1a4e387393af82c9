-- surveys: two corrections.
-- 1. next_check_ms() returned 0 (check again at once) when no complaint deadline is pending,
--    because greatest(0, NULL) is 0: the deadline timer then spun. It now returns NULL, and the
--    timer falls back to its poll interval.
-- 2. Scheduling a callback publishes surveys.CallbackScheduled, so the journey's last step can
--    be followed by other programs (the benchmark, dashboards).

CREATE OR REPLACE FUNCTION next_check_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN min(next_check_at) IS NULL THEN NULL
                ELSE greatest(0, ceil(extract(epoch FROM min(next_check_at) - svc_now()) * 1000))::bigint
           END
    FROM complaint_deadlines WHERE next_check_at IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION on_ticket_closed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_closed timestamptz := coalesce((e->>'closed_at')::timestamptz,
                                     CASE WHEN e->>'closed_date' IS NOT NULL
                                          THEN day_start((e->>'closed_date')::date) + interval '12 hours' END,
                                     svc_now());
    v_due timestamptz := into_business_hours(v_closed
                             + make_interval(hours => setting('callback_delay_h')::int));
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' OR coalesce(e->>'center', '') = '' THEN
        RETURN; -- nothing to call about
    END IF;
    IF EXISTS (SELECT 1 FROM callbacks WHERE ticket_id = e->>'ticket_id') THEN
        RETURN; -- a replay: the callback is already scheduled (the UNIQUE key guards as well)
    END IF;
    INSERT INTO callbacks(id, ticket_id, center, region, customer_name, customer_phone,
                          category, brand, outcome, closed_at, first_due_at, due_at,
                          max_attempts, created_at, updated_at)
    VALUES ('CB' || lpad(nextval('callback_no')::text, 8, '0'), e->>'ticket_id', e->>'center',
            coalesce(e->>'region', (SELECT region FROM centers WHERE code = e->>'center')),
            e#>>'{customer,name}', e#>>'{customer,phone}', e->>'category', e->>'brand',
            e->>'outcome', v_closed, v_due, v_due, setting('callback_max_attempts')::int,
            svc_now(), svc_now())
    ON CONFLICT (ticket_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.CallbackScheduled', jsonb_build_object(
            'callback_id', v_id, 'ticket_id', e->>'ticket_id', 'center', e->>'center',
            'region', coalesce(e->>'region', (SELECT region FROM centers WHERE code = e->>'center')),
            'due_at', to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
    END IF;
END $$;
