-- intake: on-site service orders and technicians (issue 19.3, docs/onsite.md, decision 0026).
-- One current definition per function, applied with CREATE OR REPLACE after the numbered
-- migrations on every start. Tables: migrations/330_service_orders.sql.
--
-- Commands arrive validated field by field in C (services/intake/main.c); here: references,
-- scope, the state machine, the technician's skill and region, the response promise.

-- ---- the response promise (the tickets' promise machinery, decision 0015) ----------------------

CREATE OR REPLACE FUNCTION so_overdue(o service_orders) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT o.response_met_at IS NULL AND o.state <> 'cancelled' AND svc_now() > o.respond_by
$$;

CREATE OR REPLACE FUNCTION so_at_risk(o service_orders) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT o.response_met_at IS NULL AND o.state <> 'cancelled' AND svc_now() <= o.respond_by
           AND svc_now() > o.respond_by - make_interval(secs => o.response_h * 36
                                                         * coalesce(setting('promise_at_risk_pct'), 25))
$$;

-- Called by escalate_promises_due() (lifecycle.sql), in the promise timer's transaction: every
-- order whose response is due and not met moves one level up, with a timeline row and
-- intake.ServiceOrderEscalated. Returns the number of escalations.
CREATE OR REPLACE FUNCTION escalate_service_orders_due() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders;
    v_n int := 0;
    v_now timestamptz := svc_now();
    v_to text;
BEGIN
    FOR o IN SELECT * FROM service_orders WHERE promise_next_check_at <= v_now
             ORDER BY promise_next_check_at, id FOR UPDATE SKIP LOCKED LOOP
        WHILE o.promise_next_check_at IS NOT NULL AND o.promise_next_check_at <= v_now LOOP
            v_to := CASE o.promise_level WHEN 'desk' THEN 'centre_manager' ELSE 'region' END;
            UPDATE service_orders SET promise_level = v_to,
                                      promise_next_check_at = promise_check_at(respond_by, v_to)
                WHERE id = o.id RETURNING * INTO o;
            INSERT INTO service_order_timeline(order_id, from_state, to_state, event, actor, note)
                VALUES (o.id, o.state, o.state, 'response_escalated', 'intake',
                        format('response promised by %s, nobody on site: escalated to %s',
                               to_char(o.respond_by AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_to));
            PERFORM emit('intake', 'intake.ServiceOrderEscalated', jsonb_build_object(
                'order_id', o.id, 'center', o.center, 'region', o.region, 'category', o.category,
                'from_level', CASE v_to WHEN 'centre_manager' THEN 'desk' ELSE 'centre_manager' END,
                'to_level', v_to, 'respond_by', iso_ts(o.respond_by),
                'escalated_at', iso_ts(v_now), 'state', o.state));
            v_n := v_n + 1;
        END LOOP;
    END LOOP;
    RETURN v_n;
END $$;

-- ---- reading --------------------------------------------------------------------------------

-- The order's customer tier (issue 19.8): the linked ticket's customer, else the customer whose
-- phone the order was opened with; regular when neither is known.
CREATE OR REPLACE FUNCTION so_tier(o service_orders) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT c.tier FROM customers c
                     WHERE c.id = coalesce((SELECT t.customer_id FROM tickets t WHERE t.id = o.ticket_id),
                                           (SELECT p.customer_id FROM customer_phones p
                                             WHERE p.phone = o.customer_phone))), 'regular')
$$;

CREATE OR REPLACE FUNCTION service_order_json(o service_orders, p_timeline boolean, p_mask boolean)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', o.id, 'state', o.state, 'center', o.center, 'region', o.region,
        'customer', jsonb_build_object('name', o.customer_name,
                                       'phone', CASE WHEN p_mask THEN mask_phone(o.customer_phone)
                                                     ELSE o.customer_phone END),
        'address', o.address, 'category', o.category, 'brand', o.brand, 'model', o.model,
        'serial', o.serial, 'fault', o.fault,
        'window_start', iso_ts(o.window_start), 'window_end', iso_ts(o.window_end),
        'ticket_id', o.ticket_id, 'call_id', o.call_id, 'technician', o.technician,
        'technician_name', (SELECT name FROM technicians WHERE login = o.technician),
        'dispatched_at', iso_ts(o.dispatched_at), 'checked_in_at', iso_ts(o.checked_in_at),
        'checked_out_at', iso_ts(o.checked_out_at), 'work_done', o.work_done,
        'distance_km', o.distance_km, 'odometer_km', o.odometer_km,
        'parts_used', CASE WHEN jsonb_array_length(o.parts_used) > 0 THEN o.parts_used END,
        'payer', o.payer, 'confirmed_by', o.confirmed_by, 'signature', o.signature,
        'rating', o.rating, 'confirmed_at', iso_ts(o.confirmed_at), 'cancel_reason', o.cancel_reason,
        'respond_by', iso_ts(o.respond_by), 'at_risk', so_at_risk(o), 'overdue', so_overdue(o),
        'response_met', CASE WHEN o.response_met_at IS NOT NULL AND o.state <> 'cancelled'
                             THEN o.response_met_at <= o.respond_by END,
        'escalation_level', o.promise_level,
        'created_at', iso_ts(o.created_at), 'updated_at', iso_ts(o.updated_at),
        'created_by', o.created_by, 'note', o.note, 'customer_tier', so_tier(o),
        'timeline', CASE WHEN p_timeline THEN (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'at', iso_ts(e.at), 'from_state', e.from_state, 'to_state', e.to_state,
                'event', e.event, 'actor', e.actor, 'note', e.note)) ORDER BY e.id), '[]')
            FROM service_order_timeline e WHERE e.order_id = o.id) END))
$$;

CREATE OR REPLACE FUNCTION cmd_get_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders;
BEGIN
    SELECT * INTO o FROM service_orders WHERE id = a->>'id';
    -- another centre's order is indistinguishable from a missing one (as tickets)
    IF NOT FOUND OR NOT may_see(p_principal, o.center, o.region) THEN
        PERFORM fail(404, 'not_found', format('service order %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'service_order', o.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true,
                              'body', service_order_json(o, true, NOT sees_phones(p_principal)));
END $$;

-- GET /v1/service-orders: newest first (cursor), or with status=at_risk|overdue the open
-- responses most urgent first; with order=priority (the dispatch list) VIP customers' orders
-- first, then key customers', then the rest, each by respond_by (no cursor: one page).
CREATE OR REPLACE FUNCTION cmd_list_service_orders(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_mask boolean := NOT sees_phones(p_principal);
    v_status text := nullif(a->>'status', '');
    v_priority boolean := coalesce(a->>'order', 'newest') = 'priority';
    v_rows jsonb;
    v_n int;
BEGIN
    IF v_priority AND coalesce(a->>'after', '') <> '' THEN
        PERFORM fail(400, 'bad_cursor', 'after: the priority order is one page (raise limit)');
    END IF;
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT created_at, id INTO v_after_at, v_after_id FROM service_orders WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'after: the cursor does not name a service order');
        END IF;
    END IF;
    WITH page AS (
        SELECT o FROM service_orders o
        WHERE may_see(p_principal, o.center, o.region)
          AND (a->>'state' IS NULL OR o.state = a->>'state')
          AND (a->>'center' IS NULL OR o.center = a->>'center')
          AND (a->>'technician' IS NULL OR o.technician = a->>'technician')
          AND (a->>'date' IS NULL OR (o.window_start AT TIME ZONE 'Asia/Shanghai')::date = (a->>'date')::date)
          AND CASE v_status WHEN 'overdue' THEN so_overdue(o)
                            WHEN 'at_risk' THEN so_at_risk(o) ELSE true END
          AND (v_status IS NOT NULL OR v_after_id IS NULL OR (o.created_at, o.id) < (v_after_at, v_after_id))
        ORDER BY CASE WHEN v_priority THEN tier_rank(so_tier(o)) END,
                 CASE WHEN v_status IS NOT NULL OR v_priority THEN o.respond_by END,
                 o.created_at DESC, o.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(service_order_json(page.o, false, v_mask)), '[]'), count(*)
        INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'orders', v_rows,
        'next', CASE WHEN v_n = v_limit AND v_status IS NULL AND NOT v_priority
                     THEN v_rows->(v_n - 1)->>'id' END));
END $$;

-- ---- opening ----------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION cmd_create_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders;
    t tickets;
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_state text;
    v_now timestamptz := svc_now();
    v_h int := coalesce(setting('order_response_h'), 24)::int;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'region', 'center') THEN
        PERFORM fail(403, 'forbidden', 'your role may not open service orders');
    END IF;
    IF nullif(a->>'ticket_id', '') IS NOT NULL THEN
        SELECT * INTO t FROM tickets WHERE id = a->>'ticket_id';
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_ticket', format('ticket_id: ticket %s does not exist', a->>'ticket_id'));
        ELSIF NOT may_see(p_principal, t.center, t.region) THEN
            PERFORM fail(404, 'not_found', format('ticket %s not found', a->>'ticket_id'));
        END IF;
        v_center := coalesce(v_center, t.center);
    END IF;
    IF v_center IS NULL AND p_principal->>'role' = 'center' THEN
        v_center := p_principal->>'site';
    END IF;
    IF v_center IS NULL THEN
        PERFORM fail(400, 'validation', 'center: is required');
    END IF;
    SELECT region, state INTO v_region, v_state FROM centers WHERE code = v_center;
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', v_center));
    END IF;
    IF NOT may_see(p_principal, v_center, v_region) THEN
        PERFORM fail(403, 'forbidden', format('you may not open service orders for centre %s', v_center));
    END IF;
    IF v_state IS DISTINCT FROM 'open' AND v_state IS NOT NULL THEN
        PERFORM fail(409, 'center_' || v_state,
                     format('centre %s is %s: it takes no new service orders', v_center, v_state));
    END IF;
    INSERT INTO service_orders(id, state, center, region, customer_name, customer_phone, address,
                               category, brand, model, serial, manufacturer, fault, window_start,
                               window_end, ticket_id, note, respond_by, response_h,
                               promise_next_check_at, created_at, updated_at, created_by, request_id)
    VALUES ('SO' || lpad(nextval('service_order_no')::text, 8, '0'), 'requested', v_center, v_region,
            a#>>'{customer,name}', a#>>'{customer,phone}', a->>'address', a->>'category',
            nullif(a->>'brand', ''), nullif(a->>'model', ''), nullif(a->>'serial', ''),
            coalesce(t.manufacturer,
                     (SELECT manufacturer FROM brands WHERE lower(brand) = lower(a->>'brand'))),
            a->>'fault', (a->>'window_start')::timestamptz, (a->>'window_end')::timestamptz,
            t.id, nullif(a->>'note', ''), v_now + make_interval(hours => v_h), v_h,
            v_now + make_interval(hours => v_h), v_now, v_now,
            coalesce(p_principal->>'subject', 'unknown'), p_req)
    RETURNING * INTO o;
    INSERT INTO service_order_timeline(order_id, at, from_state, to_state, event, actor, note)
        VALUES (o.id, v_now, NULL, 'requested', 'requested', o.created_by, o.note);
    PERFORM audit_write(p_principal, p_req, 'create', 'service_order', o.id,
                        jsonb_build_object('center', o.center, 'ticket', o.ticket_id));
    PERFORM so_emit(o, NULL, p_req);
    RETURN jsonb_build_object('status', 201, 'body', service_order_json(o, true, false));
END $$;

-- intake.ServiceOrderChanged: ids, places, states and the work's numbers; never the customer's
-- name, phone or address.
CREATE OR REPLACE FUNCTION so_emit(o service_orders, p_from text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('intake', 'intake.ServiceOrderChanged', jsonb_strip_nulls(jsonb_build_object(
        'order_id', o.id, 'center', o.center, 'region', o.region, 'category', o.category,
        'brand', o.brand, 'manufacturer', o.manufacturer, 'from_state', p_from,
        'to_state', o.state, 'technician', o.technician, 'ticket_id', o.ticket_id,
        'at', iso_ts(o.updated_at), 'respond_by', iso_ts(o.respond_by),
        'distance_km', CASE WHEN o.state = 'done' THEN o.distance_km END,
        'payer', CASE WHEN o.state = 'done' THEN o.payer END,
        'parts_used', CASE WHEN o.state = 'done' AND jsonb_array_length(o.parts_used) > 0
                           THEN o.parts_used END)), p_req);
END $$;

-- ---- the state machine -----------------------------------------------------------------------

-- The order for a command, locked: 404 out of scope, 403 for roles that may not change it, 409
-- when its state is not one of p_allowed.
CREATE OR REPLACE FUNCTION service_order_for_update(p_principal jsonb, p_id text, p_action text,
                                                    p_allowed text[]) RETURNS service_orders
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders;
BEGIN
    SELECT * INTO o FROM service_orders WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see(p_principal, o.center, o.region) THEN
        PERFORM fail(404, 'not_found', format('service order %s not found', p_id));
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'region', 'center') THEN
        PERFORM fail(403, 'forbidden', 'your role may not change service orders');
    END IF;
    IF NOT o.state = ANY (p_allowed) THEN
        PERFORM fail(409, 'illegal_transition',
                     format('service order %s is %s; %s needs it to be %s', o.id, o.state, p_action,
                            array_to_string(p_allowed, ' or ')));
    END IF;
    RETURN o;
END $$;

-- After the command's UPDATE: the timeline row, the audit row and the event.
CREATE OR REPLACE FUNCTION so_moved(o service_orders, p_from text, p_event text, p_principal jsonb,
                                    p_req text, p_note text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO service_order_timeline(order_id, at, from_state, to_state, event, actor, note)
        VALUES (o.id, o.updated_at, p_from, o.state, p_event,
                coalesce(p_principal->>'subject', 'unknown'), nullif(p_note, ''));
    PERFORM audit_write(p_principal, p_req, p_event, 'service_order', o.id,
                        jsonb_build_object('from', p_from, 'to', o.state, 'technician', o.technician));
    PERFORM so_emit(o, p_from, p_req);
    RETURN jsonb_build_object('status', 200, 'body', service_order_json(o, true, false));
END $$;

CREATE OR REPLACE FUNCTION cmd_schedule_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'schedule',
                                                 ARRAY['requested', 'scheduled']);
    v_from text := o.state;
    tech technicians;
    v_tech_region text;
BEGIN
    SELECT * INTO tech FROM technicians WHERE login = a->>'technician';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_technician',
                     format('technician: %s is not a registered technician', a->>'technician'));
    END IF;
    IF NOT tech.active THEN
        PERFORM fail(422, 'technician_inactive', format('technician: %s is not active', tech.login));
    END IF;
    PERFORM check_technician_account(tech.login, tech.center); -- still staff of that centre
    IF NOT o.category = ANY (tech.skills) THEN
        PERFORM fail(422, 'technician_lacks_skill',
                     format('technician: %s has no skill for %s (skills: %s)', tech.login, o.category,
                            coalesce(nullif(array_to_string(tech.skills, ', '), ''), 'none')));
    END IF;
    SELECT region INTO v_tech_region FROM centers WHERE code = tech.center;
    IF v_tech_region IS DISTINCT FROM o.region THEN
        PERFORM fail(422, 'technician_outside_region',
                     format('technician: %s works in region %s, the order is in region %s',
                            tech.login, coalesce(v_tech_region, '-'), coalesce(o.region, '-')));
    END IF;
    UPDATE service_orders SET state = 'scheduled', technician = tech.login,
                              window_start = coalesce((a->>'window_start')::timestamptz, window_start),
                              window_end = coalesce((a->>'window_end')::timestamptz, window_end),
                              updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, v_from, CASE v_from WHEN 'scheduled' THEN 'rescheduled' ELSE 'scheduled' END,
                    p_principal, p_req,
                    concat_ws('; ', format('%s, %s to %s', tech.login, iso_ts(o.window_start),
                                           iso_ts(o.window_end)), nullif(a->>'note', '')));
END $$;

CREATE OR REPLACE FUNCTION cmd_dispatch_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'dispatch', ARRAY['scheduled']);
BEGIN
    UPDATE service_orders SET state = 'dispatched', dispatched_at = svc_now(), updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, 'scheduled', 'dispatched', p_principal, p_req, a->>'note');
END $$;

CREATE OR REPLACE FUNCTION cmd_check_in_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'check-in', ARRAY['dispatched']);
    v_at timestamptz := coalesce((a->>'at')::timestamptz, svc_now());
BEGIN
    -- on site: the response promise is met (or missed) now; its timer stops
    UPDATE service_orders SET state = 'on_site', checked_in_at = v_at, response_met_at = v_at,
                              promise_next_check_at = NULL, updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, 'dispatched', 'checked_in', p_principal, p_req,
                    CASE WHEN v_at > o.respond_by THEN 'after the response promise' END);
END $$;

CREATE OR REPLACE FUNCTION cmd_check_out_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'check-out', ARRAY['on_site']);
    v_at timestamptz := coalesce((a->>'at')::timestamptz, svc_now());
    t tickets;
    v_payer text := 'customer';
BEGIN
    IF v_at < o.checked_in_at THEN
        PERFORM fail(400, 'validation', 'at: is before the check-in');
    END IF;
    IF a->>'odometer_km' IS NOT NULL AND o.category <> 'car' THEN
        PERFORM fail(400, 'validation', format('odometer_km: a %s has no odometer', o.category));
    END IF;
    IF coalesce((a->>'validate_only')::boolean, false) THEN
        -- the gateway's first step of a check-out with parts: would it be taken? Nothing changes.
        RETURN jsonb_build_object('status', 200, 'nostore', true,
                                  'body', service_order_json(o, false, NOT sees_phones(p_principal)));
    END IF;
    -- Who pays the travel fee: the linked ticket's warranty decision (covered work: the
    -- manufacturer), else the customer.
    IF o.ticket_id IS NOT NULL THEN
        SELECT * INTO t FROM tickets WHERE id = o.ticket_id;
        IF t.decision IS NOT NULL THEN
            v_payer := payer_of(t);
        END IF;
    END IF;
    UPDATE service_orders SET state = 'done', checked_out_at = v_at, work_done = a->>'work_done',
                              distance_km = round((a->>'distance_km')::numeric, 1),
                              parts_used = coalesce(a->'parts_used', '[]'), payer = v_payer,
                              odometer_km = (a->>'odometer_km')::bigint, updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, 'on_site', 'checked_out', p_principal, p_req,
                    format('%s km; %s', o.distance_km, o.work_done));
END $$;

CREATE OR REPLACE FUNCTION cmd_confirm_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'confirm', ARRAY['done']);
BEGIN
    UPDATE service_orders SET state = 'confirmed', confirmed_by = a->>'confirmed_by',
                              signature = nullif(a->>'signature', ''), rating = (a->>'rating')::int,
                              confirmed_at = svc_now(), updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, 'done', 'confirmed', p_principal, p_req, a->>'note');
END $$;

CREATE OR REPLACE FUNCTION cmd_cancel_service_order(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    o service_orders := service_order_for_update(p_principal, a->>'id', 'cancel',
                                                 ARRAY['requested', 'scheduled', 'dispatched']);
    v_from text := o.state;
BEGIN
    UPDATE service_orders SET state = 'cancelled', cancel_reason = a->>'reason',
                              promise_next_check_at = NULL, updated_at = svc_now()
        WHERE id = o.id RETURNING * INTO o;
    RETURN so_moved(o, v_from, 'cancelled', p_principal, p_req, a->>'reason');
END $$;

-- ---- technicians ------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION technician_json(t technicians) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('login', t.login, 'name', t.name, 'center', t.center,
                              'region', (SELECT region FROM centers WHERE code = t.center),
                              'skills', to_jsonb(t.skills), 'active', t.active,
                              'updated_at', iso_ts(t.updated_at))
$$;

-- POST /v1/technicians: register or change a technician (a centre its own, a region its
-- region's, admin any).
CREATE OR REPLACE FUNCTION cmd_save_technician(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_region text;
    v_old technicians;
    t technicians;
    v_skills text[] := ARRAY(SELECT DISTINCT jsonb_array_elements_text(coalesce(a->'skills', '[]'))
                             ORDER BY 1);
BEGIN
    SELECT region INTO v_region FROM centers WHERE code = a->>'center';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', a->>'center'));
    END IF;
    IF p_principal->>'role' NOT IN ('admin', 'region', 'center')
       OR NOT may_see(p_principal, a->>'center', v_region) THEN
        PERFORM fail(403, 'forbidden', format('you may not manage technicians of centre %s', a->>'center'));
    END IF;
    IF coalesce((a->>'active')::boolean, true) THEN
        -- an active technician is a staff login of that centre (a departed one may still be
        -- deactivated after their account is gone)
        PERFORM check_technician_account(a->>'login', a->>'center');
    END IF;
    SELECT * INTO v_old FROM technicians WHERE login = a->>'login' FOR UPDATE;
    IF FOUND AND NOT may_see(p_principal, v_old.center,
                             (SELECT region FROM centers WHERE code = v_old.center)) THEN
        PERFORM fail(403, 'forbidden', format('technician %s belongs to another centre', v_old.login));
    END IF;
    INSERT INTO technicians(login, name, center, skills, active, updated_by)
    VALUES (a->>'login', a->>'name', a->>'center', v_skills, coalesce((a->>'active')::boolean, true),
            coalesce(p_principal->>'subject', 'unknown'))
    ON CONFLICT (login) DO UPDATE SET name = EXCLUDED.name, center = EXCLUDED.center,
        skills = EXCLUDED.skills, active = EXCLUDED.active, updated_at = now(),
        updated_by = EXCLUDED.updated_by
    RETURNING * INTO t;
    PERFORM audit_write(p_principal, p_req, CASE WHEN v_old.login IS NULL THEN 'create' ELSE 'update' END,
                        'technician', t.login,
                        jsonb_build_object('center', t.center, 'skills', to_jsonb(t.skills),
                                           'active', t.active));
    RETURN jsonb_build_object('status', CASE WHEN v_old.login IS NULL THEN 201 ELSE 200 END,
                              'body', technician_json(t));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_technicians(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'technicians', coalesce(jsonb_agg(technician_json(t) ORDER BY t.center, t.login), '[]')))
    FROM technicians t JOIN centers c ON c.code = t.center
    WHERE may_see(p_principal, c.code, c.region)
      AND (a->>'center' IS NULL OR t.center = a->>'center')
      AND (a->>'skill' IS NULL OR (a->>'skill') = ANY (t.skills))
$$;

-- GET /v1/technicians/workload?date=: per active technician in scope, the orders whose window
-- starts that day (not cancelled) and how many of them are not done yet.
CREATE OR REPLACE FUNCTION cmd_technician_workload(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_date date := coalesce((a->>'date')::date, (svc_now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_rows jsonb;
    v_assign jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'login', t.login, 'name', t.name, 'center', t.center, 'skills', to_jsonb(t.skills),
               'orders', w.n, 'open', w.open, 'order_ids', to_jsonb(w.ids))
               ORDER BY w.n DESC, t.login), '[]')
        INTO v_rows
    FROM technicians t JOIN centers c ON c.code = t.center
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS n,
               count(*) FILTER (WHERE o.state IN ('scheduled', 'dispatched', 'on_site'))::int AS open,
               coalesce(array_agg(o.id ORDER BY tier_rank(so_tier(o)), o.respond_by, o.id)
                            FILTER (WHERE o.id IS NOT NULL), '{}') AS ids
        FROM service_orders o
        WHERE o.technician = t.login AND o.state <> 'cancelled'
          AND (o.window_start AT TIME ZONE 'Asia/Shanghai')::date = v_date) w
    WHERE t.active AND may_see(p_principal, c.code, c.region)
      AND (a->>'center' IS NULL OR t.center = a->>'center')
      -- only technicians who are still active staff of their centre (people's accounts)
      AND EXISTS (SELECT 1 FROM staff_accounts s WHERE s.login = t.login AND s.active
                                                    AND s.role = 'center' AND s.site = t.center);
    -- the day's orders still without a technician, in dispatch order (tier, then promise)
    SELECT coalesce(jsonb_agg(x.j ORDER BY x.rank, x.respond_by, x.id), '[]') INTO v_assign
    FROM (SELECT o.id, o.respond_by, tier_rank(so_tier(o)) AS rank,
                 jsonb_build_object('id', o.id, 'category', o.category, 'center', o.center,
                                    'customer_tier', so_tier(o), 'respond_by', iso_ts(o.respond_by),
                                    'window_start', iso_ts(o.window_start)) AS j
          FROM service_orders o
          WHERE o.state = 'requested' AND may_see(p_principal, o.center, o.region)
            AND (a->>'center' IS NULL OR o.center = a->>'center')
            AND (o.window_start AT TIME ZONE 'Asia/Shanghai')::date = v_date) x;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'date', v_date::text, 'rows', v_rows, 'to_assign', v_assign));
END $$;
