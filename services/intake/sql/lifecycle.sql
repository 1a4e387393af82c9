-- intake: lifecycle functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION illegal(t tickets, p_action text, p_allowed text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fail(409, 'illegal_transition',
                 format('ticket %s is %s; %s needs it to be %s', t.id, t.state, p_action, p_allowed));
END $$;

-- move() stamps closed_at for every final state, `returned` included.
CREATE OR REPLACE FUNCTION move(t tickets, p_to text, p_event text, p_principal jsonb, p_req text,
                                p_note text, p_work jsonb DEFAULT NULL) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    r tickets;
BEGIN
    UPDATE tickets SET state = p_to, updated_at = now(), work = coalesce(p_work, work),
                       closed_at = CASE WHEN p_to IN ('closed', 'refunded', 'exchanged', 'declined',
                                                      'cancelled', 'returned') THEN now() ELSE closed_at END
        WHERE id = t.id AND state = t.state
        RETURNING * INTO r;
    IF NOT FOUND THEN
        PERFORM fail(409, 'illegal_transition', format('ticket %s changed meanwhile', t.id));
    END IF;
    INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note, request_id)
        VALUES (t.id, t.state, p_to, p_event, coalesce(p_principal->>'subject', 'unknown'),
                nullif(p_note, ''), p_req);
    PERFORM audit_write(p_principal, p_req, p_event, 'ticket', t.id,
                        jsonb_build_object('from', t.state, 'to', p_to));
    RETURN r;
END $$;

-- Does the customer pay for a repair under this decision?
CREATE OR REPLACE FUNCTION repair_is_paid(d jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN d IS NULL THEN true
        WHEN d->>'status' IN ('not_covered', 'exempt') THEN true
        WHEN d->>'remedy' = 'repair' THEN NOT coalesce((d->>'free')::boolean, false)
        ELSE NOT coalesce(d->'entitled' ? 'repair', false)
    END
$$;

CREATE OR REPLACE FUNCTION remedy_granted(d jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d->>'status' IN ('granted', 'granted_with_depreciation')
                 AND d->>'remedy' IN ('refund', 'exchange') THEN d->>'remedy' END
$$;

CREATE OR REPLACE FUNCTION cmd_diagnose(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_paid boolean;
    v_work jsonb;
    v_parts jsonb := coalesce(a->'parts', '[]');
BEGIN
    IF t.state <> 'adjudicated' THEN
        PERFORM illegal(t, 'diagnosis', 'adjudicated');
    END IF;
    IF remedy_granted(t.decision) IS NOT NULL THEN
        PERFORM fail(409, 'remedy_not_repair',
                     format('the decision grants a %s; hand the ticket back instead', remedy_granted(t.decision)));
    END IF;
    PERFORM check_skus(v_parts, 'parts');
    v_paid := repair_is_paid(t.decision);
    IF v_paid AND a->'estimate_cents' IS NULL THEN
        PERFORM fail(400, 'estimate_required',
                     'this repair is paid by the customer: give estimate_cents before work starts');
    END IF;
    v_work := t.work || jsonb_strip_nulls(jsonb_build_object(
        'fault_code', coalesce(a->>'fault_code', t.fault->>'code'), 'labour_code', a->>'labour_code',
        'parts', v_parts, 'estimate_cents', a->'estimate_cents',
        'paid', v_paid, 'promised_date', a->>'promised_date'));
    t := move(t, CASE WHEN v_paid THEN 'estimate_pending' ELSE 'in_repair' END, 'diagnosed',
              p_principal, p_req, a->>'note', v_work);
    PERFORM emit('intake', 'intake.TicketDiagnosed', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
        'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'fault_code', v_work->>'fault_code', 'labour_code', v_work->>'labour_code',
        'parts', v_work->'parts', 'estimate_cents', v_work->'estimate_cents', 'paid', v_paid), p_req);
    IF jsonb_array_length(v_parts) > 0 THEN
        -- The parts the diagnosis names are requested now: one step for the desk.
        t := request_lines(t, v_parts, p_req);
        IF t.state = 'in_repair' THEN
            t := move(t, 'awaiting_parts', 'parts_requested', p_principal, p_req,
                      'requested with the diagnosis');
        ELSE
            INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note, request_id)
                VALUES (t.id, t.state, t.state, 'parts_requested',
                        coalesce(p_principal->>'subject', 'unknown'),
                        'requested with the diagnosis (held while the customer decides)', p_req);
        END IF;
    END IF;
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- A car's mileage per day, from its odometer reading on ticket t and the latest earlier reading
-- of the same car at least a day before — on another ticket (same device key, i.e. the VIN) or
-- at an on-site visit's check-out (a car order whose serial is the VIN): NULL without one, or
-- when the odometer went back (a replaced instrument cluster). Rounded to 0.1 km; feeds the
-- mileage rule of the maintenance reminder (docs/surveys.md "Maintenance by date or mileage").
CREATE OR REPLACE FUNCTION km_per_day_of(t tickets) RETURNS numeric
LANGUAGE sql STABLE AS $$
    WITH earlier AS (
        SELECT (p.device->>'odometer_km')::numeric AS km, p.opened_at AS at
        FROM tickets p
        WHERE t.device_key IS NOT NULL AND p.device_key = t.device_key AND p.id <> t.id
          AND (p.device->>'odometer_km') IS NOT NULL
        UNION ALL
        SELECT o.odometer_km::numeric, o.checked_out_at
        FROM service_orders o
        WHERE coalesce(t.device->>'vin', '') <> '' AND o.category = 'car'
          AND o.odometer_km IS NOT NULL AND upper(o.serial) = upper(t.device->>'vin'))
    SELECT CASE WHEN (t.device->>'odometer_km')::numeric >= e.km
                THEN round(((t.device->>'odometer_km')::numeric - e.km)
                           / (extract(epoch FROM t.opened_at - e.at) / 86400)::numeric, 1) END
    FROM earlier e
    WHERE e.at <= t.opened_at - interval '1 day' AND (t.device->>'odometer_km') IS NOT NULL
    ORDER BY e.at DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION closed_event(t tickets, p_outcome text, p_req text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit('intake', 'intake.TicketClosed', jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'outcome', p_outcome,
        'customer', jsonb_build_object('name', t.customer_name, 'phone', t.customer_phone),
        'category', t.category, 'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'closed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'closed_date', (now() AT TIME ZONE 'Asia/Shanghai')::date::text,
        'turnaround_hours', ceil(extract(epoch FROM now() - t.opened_at) / 3600)::int,
        'repeat_repair', t.repeat_repair,
        'refund_cents', CASE WHEN p_outcome = 'refunded'
                             THEN coalesce((t.decision->>'refund_cents')::bigint, (t.purchase->>'price_cents')::bigint) END,
        'price_cents', (t.purchase->>'price_cents')::bigint,
        'payer', CASE WHEN p_outcome = 'repaired' THEN payer_of(t) WHEN p_outcome IN ('refunded', 'exchanged') THEN 'seller' END,
        'payment_method', t.work->>'payment_method',
        'loaner_unit', t.work->>'loaner_returned',
        'diagnosis_fee', CASE WHEN (t.work->>'diagnosis_fee')::boolean THEN true END,
        -- a car: its odometer at intake and its mileage per day (the maintenance reminder's rule)
        'odometer_km', CASE WHEN t.category = 'car' THEN (t.device->>'odometer_km')::bigint END,
        'odometer_at', CASE WHEN t.category = 'car' AND t.device ? 'odometer_km'
                            THEN to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END,
        'km_per_day', CASE WHEN t.category = 'car' THEN km_per_day_of(t) END)),
        p_req);
END $$;

-- As in 112_diagnosis_requests_parts.sql, plus: an accepted estimate becomes the cap.
CREATE OR REPLACE FUNCTION cmd_consent(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
BEGIN
    IF t.state <> 'estimate_pending' THEN
        PERFORM illegal(t, 'consent', 'estimate_pending');
    END IF;
    t := consent_apply(t, coalesce((a->>'accept')::boolean, false), p_principal, p_req, a->>'note');
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- The customer's consent to the estimate of ticket t (locked, estimate_pending): the desk's
-- intake.Consent and the status page's intake.DecideEstimate both come here.
CREATE OR REPLACE FUNCTION consent_apply(t tickets, p_accept boolean, p_principal jsonb, p_req text,
                                         p_note text) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    v_accept boolean := coalesce(p_accept, false);
    v_waiting boolean;
    v_to text;
BEGIN
    -- Lines requested with the diagnosis that the parts service has not reserved yet.
    v_waiting := EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) r
                         WHERE r->>'status' IN ('requested', 'backordered'));
    v_to := CASE WHEN NOT v_accept THEN 'declined' WHEN v_waiting THEN 'awaiting_parts' ELSE 'in_repair' END;
    t := move(t, v_to,
              CASE WHEN v_accept THEN 'estimate_accepted' ELSE 'estimate_declined' END,
              p_principal, p_req, p_note,
              t.work || jsonb_build_object('consent', v_accept,
                                           'outcome', CASE WHEN v_accept THEN NULL ELSE 'declined' END)
                     || CASE WHEN v_accept AND t.work->'estimate_cents' IS NOT NULL
                             THEN jsonb_build_object('consented_estimate_cents', t.work->'estimate_cents')
                             ELSE '{}' END);
    IF NOT v_accept THEN
        IF jsonb_array_length(coalesce(t.work->'requested', '[]')) > 0 THEN
            PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
                'ticket_id', t.id, 'center', t.center, 'region', t.region,
                'reason', 'estimate declined',
                'lines', (SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r)),
                p_req);
        END IF;
        PERFORM closed_event(t, 'declined', p_req);
    END IF;
    RETURN t;
END $$;

-- As in 101_lifecycle.sql, plus consented_estimate_cents in intake.RepairCompleted (a ticket
-- consented before this migration has no work.consented_estimate_cents: its accepted
-- estimate_cents is the cap).
CREATE OR REPLACE FUNCTION cmd_complete_repair(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_used jsonb;
    v_work jsonb;
    v_today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
    v_waiting text;
BEGIN
    -- A part used must reach the ledger: every part line must be reserved (the parts service
    -- then issues it with a valued movement) or released before the repair is done. A line
    -- still requested or backordered would be completed with no issue movement at all.
    IF t.state IN ('in_repair', 'awaiting_parts') THEN
        SELECT string_agg(format('line %s (%s x%s, %s)', r->>'line_no', r->>'sku', r->>'qty', r->>'status'),
                          ', ' ORDER BY (r->>'line_no')::int)
            INTO v_waiting FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) r
            WHERE r->>'status' IN ('requested', 'backordered');
        IF v_waiting IS NOT NULL THEN
            PERFORM fail(409, 'parts_not_reserved',
                         format('ticket %s: part %s not reserved yet; the repair can be completed once every '
                                'part line is reserved (or return the device unrepaired)', t.id, v_waiting));
        END IF;
    END IF;
    IF t.state <> 'in_repair' THEN
        PERFORM illegal(t, 'repair completion', 'in_repair');
    END IF;
    PERFORM check_skus(a->'parts_used', 'parts_used');
    -- Match each used part to a reserved line of the same SKU (first come, first matched).
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'line_no', (SELECT (r->>'line_no')::int
                           FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) WITH ORDINALITY AS q(r, k)
                           WHERE r->>'sku' = u->>'sku' AND r->>'status' = 'reserved'
                           ORDER BY k LIMIT 1 OFFSET (
                               SELECT count(*) FROM jsonb_array_elements(a->'parts_used') WITH ORDINALITY AS p(u2, m)
                               WHERE m < n AND u2->>'sku' = u->>'sku')),
               'sku', u->>'sku', 'qty', (u->>'qty')::int)) ORDER BY n), '[]')
        INTO v_used FROM jsonb_array_elements(coalesce(a->'parts_used', '[]')) WITH ORDINALITY AS x(u, n);
    v_work := t.work || jsonb_strip_nulls(jsonb_build_object(
        'parts_used', v_used, 'labour_code', coalesce(a->>'labour_code', t.work->>'labour_code'),
        'labour_minutes', a->'labour_minutes', 'cause', coalesce(a->>'cause', 'other')));
    t := move(t, 'ready', 'repair_completed', p_principal, p_req, a->>'note', v_work);
    IF t.device_key IS NOT NULL THEN
        INSERT INTO device_repairs(ticket_id, device_key, dropped_off, returned, hours, problem,
                                   listed, serious_safety)
        VALUES (t.id, t.device_key, (t.opened_at AT TIME ZONE 'Asia/Shanghai')::date, v_today,
                greatest(ceil(extract(epoch FROM now() - t.opened_at) / 3600), 1)::int,
                coalesce(v_work->>'fault_code', t.fault->>'code'),
                coalesce((t.fault->>'listed')::boolean, false),
                coalesce(t.fault->>'car' IN ('steering_failure', 'brake_failure', 'body_crack',
                                             'fuel_leak', 'traction_battery_fire', 'serious_safety'), false))
        ON CONFLICT (ticket_id) DO NOTHING;
    END IF;
    PERFORM emit('intake', 'intake.RepairCompleted', jsonb_strip_nulls(jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
        'brand', t.device->>'brand', 'manufacturer', t.manufacturer,
        'fault_code', v_work->>'fault_code', 'labour_code', v_work->>'labour_code',
        'labour_minutes', v_work->'labour_minutes', 'parts_used', v_used,
        'payer', payer_of(t), 'warranty_status', t.decision->>'status',
        'remedy', t.decision->>'remedy', 'rules', coalesce(t.decision->'rules', '[]'),
        'cause', v_work->>'cause',
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'completed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'repeat_repair', t.repeat_repair, 'estimate_cents', v_work->'estimate_cents',
        'claim_date', t.claim_date::text,
        'consented_estimate_cents',
            CASE WHEN coalesce((v_work->>'paid')::boolean, false)
                 THEN coalesce(v_work->'consented_estimate_cents',
                               CASE WHEN (v_work->>'consent')::boolean THEN v_work->'estimate_cents' END)
            END)), p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_handback(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_remedy text := remedy_granted(t.decision);
    v_to text;
    v_outcome text;
BEGIN
    IF t.state = 'ready' THEN
        v_to := 'closed';
        v_outcome := 'repaired';
    ELSIF t.state = 'adjudicated' AND v_remedy IS NOT NULL THEN
        v_to := CASE v_remedy WHEN 'refund' THEN 'refunded' ELSE 'exchanged' END;
        v_outcome := v_to;
    ELSE
        PERFORM illegal(t, 'hand-back', 'ready (or adjudicated with a granted refund or exchange)');
    END IF;
    PERFORM check_loaner(t, a, 'hand-back');
    t := move(t, v_to, 'handed_back', p_principal, p_req, a->>'note',
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', v_outcome, 'payment_method', a->>'payment_method',
                  'loaner_returned', nullif(a->>'loaner_unit', ''))));
    t := loaner_back(t);
    PERFORM closed_event(t, v_outcome, p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_cancel_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending') THEN
        PERFORM illegal(t, 'cancellation', 'received, adjudicated, awaiting_review or estimate_pending');
    END IF;
    t := move(t, 'cancelled', 'cancelled', p_principal, p_req, a->>'reason',
              t.work || jsonb_build_object('outcome', 'cancelled'));
    PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region, 'reason', a->>'reason',
        'lines', coalesce((SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r), '[]')),
        p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_return_unrepaired(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_fee boolean;
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending',
                       'in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'return unrepaired',
                        'received, adjudicated, awaiting_review, estimate_pending, in_repair or awaiting_parts');
    END IF;
    PERFORM check_loaner(t, a, 'return unrepaired');
    -- The one charge the rules allow here: the diagnosis fee, when the customer consented to it
    -- at intake and a repair they would pay for (not covered) was diagnosed. Never for covered
    -- work, never without consent, never before a diagnosis.
    v_fee := coalesce((t.extra->>'diagnosis_fee_consent')::boolean, false)
             AND coalesce((t.work->>'paid')::boolean, false);
    t := move(t, 'returned', 'returned_unrepaired', p_principal, p_req, a->>'reason',
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', 'returned_unrepaired', 'loaner_returned', nullif(a->>'loaner_unit', ''),
                  'diagnosis_fee', CASE WHEN v_fee THEN true END,
                  'payment_method', CASE WHEN v_fee THEN a->>'payment_method' END)));
    t := loaner_back(t);
    PERFORM emit('intake', 'intake.TicketCancelled', jsonb_build_object(
        'ticket_id', t.id, 'center', t.center, 'region', t.region,
        'reason', 'returned unrepaired: ' || (a->>'reason'),
        'lines', coalesce((SELECT jsonb_agg(r - 'status') FROM jsonb_array_elements(t.work->'requested') r), '[]')),
        p_req);
    PERFORM closed_event(t, 'declined', p_req);
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

-- The work needs more than the customer agreed to: a new estimate, and a new consent.
CREATE OR REPLACE FUNCTION cmd_revise_estimate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_estimate bigint := (a->>'estimate_cents')::bigint;
BEGIN
    IF v_estimate IS NULL OR v_estimate <= 0 THEN
        PERFORM fail(400, 'invalid_field', 'estimate_cents must be above zero');
    END IF;
    IF t.state NOT IN ('in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'an estimate revision', 'in_repair or awaiting_parts');
    END IF;
    IF NOT coalesce((t.work->>'paid')::boolean, false) THEN
        PERFORM fail(409, 'not_paid_repair',
                     format('ticket %s is not paid by the customer: there is no estimate to revise', t.id));
    END IF;
    t := move(t, 'estimate_pending', 'estimate_revised', p_principal, p_req,
              format('estimate %s -> %s cents%s', coalesce(t.work->>'estimate_cents', '-'), v_estimate,
                     coalesce(': ' || nullif(a->>'note', ''), '')),
              (t.work - 'consent') || jsonb_build_object('estimate_cents', v_estimate));
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION tickets_check_center_open() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    SELECT state INTO v_state FROM centers WHERE code = NEW.center;
    IF v_state IS DISTINCT FROM 'open' AND v_state IS NOT NULL THEN
        PERFORM fail(409, 'center_' || v_state,
                     format('centre %s is %s: it takes no new tickets', NEW.center, v_state));
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER tickets_check_center_open BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_check_center_open();

CREATE OR REPLACE FUNCTION iso_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A ticket as a line of a device's or customer's history (no personal data).
CREATE OR REPLACE FUNCTION history_json(t tickets) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', t.id, 'center', t.center, 'state', t.state, 'request', t.request,
        'fault_code', t.fault->>'code', 'device_key', t.device_key,
        'opened_at', iso_ts(t.opened_at), 'closed_at', iso_ts(t.closed_at)))
$$;

CREATE OR REPLACE FUNCTION device_json(d devices, p_history boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'key', d.device_key, 'imei', d.imei, 'serial', d.serial, 'vin', d.vin,
        'category', d.category, 'brand', d.brand, 'model', d.model,
        'purchase_date', d.purchase_date::text, 'invoice_ref', d.invoice_ref,
        'customer_id', d.customer_id, 'first_seen_at', iso_ts(d.first_seen_at),
        'history', CASE WHEN p_history THEN
            (SELECT coalesce(jsonb_agg(history_json(t) ORDER BY t.opened_at, t.id), '[]')
             FROM tickets t WHERE t.device_key = d.device_key) END))
$$;

CREATE OR REPLACE FUNCTION customer_json(c customers, p_full boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'name', c.name, 'phones', to_jsonb(c.phones), 'address', c.address,
        'consent', c.consent, 'tier', c.tier, 'account_owner', c.account_owner,
        'center', c.center, 'created_at', iso_ts(c.created_at), 'updated_at', iso_ts(c.updated_at),
        'erased_at', iso_ts(c.erased_at),
        'devices', CASE WHEN p_full THEN
            (SELECT coalesce(jsonb_agg(device_json(d, false) ORDER BY d.first_seen_at, d.device_key), '[]')
             FROM devices d WHERE d.customer_id = c.id) END,
        'tickets', CASE WHEN p_full THEN
            (SELECT coalesce(jsonb_agg(history_json(t) ORDER BY t.opened_at, t.id), '[]')
             FROM tickets t WHERE t.customer_id = c.id) END))
$$;

-- May this principal read customer c? Admin: all; a centre desk: customers registered at its
-- centre or with a ticket there. Everyone else (region, finance, reviewer, warehouse): no.
CREATE OR REPLACE FUNCTION may_see_customer(p jsonb, c customers) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(CASE p->>'role'
        WHEN 'admin' THEN true
        WHEN 'center' THEN p->>'site' <> '' AND (c.center = p->>'site' OR EXISTS (
            SELECT 1 FROM tickets t WHERE t.customer_id = c.id AND t.center = p->>'site'))
        ELSE false END, false)
$$;

-- May this principal read device d (and its history)? Anyone who may see one of its tickets.
CREATE OR REPLACE FUNCTION may_see_device(p jsonb, d devices) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p->>'role' IN ('admin', 'reviewer')
        OR EXISTS (SELECT 1 FROM tickets t WHERE t.device_key = d.device_key
                   AND p->>'role' IN ('region', 'center') AND may_see(p, t.center, t.region))
$$;

CREATE OR REPLACE FUNCTION customer_event(p_req text, c customers, p_change text) RETURNS void
LANGUAGE sql AS $$
    SELECT emit('intake', 'intake.CustomerChanged', jsonb_strip_nulls(jsonb_build_object(
        'customer_id', c.id, 'change', p_change, 'tier', c.tier,
        'account_owner', c.account_owner, 'center', c.center)), p_req);
$$;

-- The phone as stored: digits and a leading '+' only.
CREATE OR REPLACE FUNCTION norm_phone(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(regexp_replace(coalesce(p, ''), '[^0-9+]', '', 'g'), '')
$$;

-- Every ticket links to its customer (found by phone, else registered) and its device.
CREATE OR REPLACE FUNCTION tickets_link_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_phone text := norm_phone(NEW.customer_phone);
    v_id text;
    c customers;
BEGIN
    IF v_phone IS NOT NULL THEN
        -- one customer per phone, also when two desks register the same new phone at once
        PERFORM pg_advisory_xact_lock(hashtext('customer_phone:' || v_phone));
        SELECT customer_id INTO v_id FROM customer_phones WHERE phone = v_phone;
        IF v_id IS NULL THEN
            INSERT INTO customers(id, name, phones, center)
            VALUES ('CU' || lpad(nextval('customer_no')::text, 8, '0'), NEW.customer_name,
                    ARRAY[v_phone], NEW.center)
            RETURNING * INTO c;
            INSERT INTO customer_phones(phone, customer_id) VALUES (v_phone, c.id);
            PERFORM customer_event(NULL, c, 'registered');
            v_id := c.id;
        END IF;
        NEW.customer_id := v_id;
    END IF;
    IF NEW.device_key IS NOT NULL THEN
        INSERT INTO devices(device_key, imei, serial, vin, category, brand, model, purchase_date,
                            invoice_ref, customer_id)
        VALUES (NEW.device_key, nullif(NEW.device->>'imei', ''), nullif(NEW.device->>'serial', ''),
                nullif(NEW.device->>'vin', ''), NEW.category, nullif(NEW.device->>'brand', ''),
                nullif(NEW.device->>'model', ''),
                CASE WHEN NEW.purchase->>'invoice_date' ~ '^\d{4}-\d{2}-\d{2}$'
                     THEN (NEW.purchase->>'invoice_date')::date END,
                nullif(coalesce(NEW.purchase->>'invoice_no', NEW.purchase->>'invoice_ref'), ''),
                NEW.customer_id)
        ON CONFLICT (device_key) DO UPDATE
            SET customer_id = coalesce(EXCLUDED.customer_id, devices.customer_id),
                model = coalesce(devices.model, EXCLUDED.model),
                purchase_date = coalesce(devices.purchase_date, EXCLUDED.purchase_date),
                invoice_ref = coalesce(devices.invoice_ref, EXCLUDED.invoice_ref),
                updated_at = now();
    END IF;
    RETURN NEW;
END $$;

-- BEFORE INSERT triggers fire by name: after tickets_check_center_open / _references refused
-- what they refuse.
CREATE OR REPLACE TRIGGER tickets_link_customer BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_link_customer();

-- Validate a customer's fields (create: p_create); raises 400 naming every bad field.
CREATE OR REPLACE FUNCTION customer_check(a jsonb, p_create boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_fields jsonb := '[]';
    v_ph text;
BEGIN
    IF (p_create OR a ? 'name') AND coalesce(btrim(a->>'name'), '') = '' THEN
        v_fields := v_fields || jsonb_build_object('field', 'name', 'problem', 'is required');
    ELSIF length(a->>'name') > 200 THEN
        v_fields := v_fields || jsonb_build_object('field', 'name', 'problem', 'is longer than 200');
    END IF;
    IF p_create AND jsonb_array_length(coalesce(a->'phones', '[]')) = 0 THEN
        v_fields := v_fields || jsonb_build_object('field', 'phones', 'problem', 'at least one phone is required');
    END IF;
    FOR v_ph IN SELECT jsonb_array_elements_text(coalesce(a->'phones', '[]')) LOOP
        IF coalesce(norm_phone(v_ph), '') !~ '^\+?[0-9]{5,20}$' THEN
            v_fields := v_fields || jsonb_build_object('field', 'phones',
                'problem', format('%s is not a phone number (5 to 20 digits)', v_ph));
        END IF;
    END LOOP;
    IF a ? 'tier' AND a->>'tier' NOT IN ('regular', 'key', 'vip') THEN
        v_fields := v_fields || jsonb_build_object('field', 'tier', 'problem', 'must be regular, key or vip');
    END IF;
    IF length(a->>'address') > 500 THEN
        v_fields := v_fields || jsonb_build_object('field', 'address', 'problem', 'is longer than 500');
    END IF;
    IF jsonb_array_length(v_fields) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AS400', MESSAGE = 'validation',
            DETAIL = (SELECT string_agg((f->>'field') || ': ' || (f->>'problem'), '; ')
                      FROM jsonb_array_elements(v_fields) f);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION customer_for_update(p jsonb, p_id text) RETURNS customers
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', p_id));
    END IF;
    RETURN c;
END $$;

-- Register phones for customer p_id; a phone of another customer is 409.
CREATE OR REPLACE FUNCTION customer_add_phones(p_id text, a jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_ph text;
    v_other text;
BEGIN
    FOR v_ph IN SELECT DISTINCT norm_phone(x) FROM jsonb_array_elements_text(coalesce(a->'phones', '[]')) x LOOP
        PERFORM pg_advisory_xact_lock(hashtext('customer_phone:' || v_ph));
        SELECT customer_id INTO v_other FROM customer_phones WHERE phone = v_ph;
        IF v_other IS NOT NULL AND v_other <> p_id THEN
            PERFORM fail(409, 'phone_taken',
                         format('phones: %s already belongs to customer %s', v_ph, v_other));
        END IF;
        INSERT INTO customer_phones VALUES (v_ph, p_id) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION cmd_create_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
    v_center text := CASE WHEN p->>'role' = 'center' THEN p->>'site' ELSE nullif(a->>'center', '') END;
BEGIN
    IF p->>'role' NOT IN ('admin', 'center') THEN
        PERFORM fail(403, 'forbidden', 'only admin and the centre desks register customers');
    END IF;
    PERFORM customer_check(a, true);
    IF coalesce(a->>'tier', 'regular') <> 'regular' AND coalesce(a->>'account_owner', '') = '' THEN
        PERFORM fail(400, 'validation', 'account_owner: a key or VIP customer needs a named account owner');
    END IF;
    IF v_center IS NOT NULL AND NOT EXISTS (SELECT 1 FROM centers WHERE code = v_center) THEN
        PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', v_center));
    END IF;
    INSERT INTO customers(id, name, phones, address, consent, tier, account_owner, center)
    VALUES ('CU' || lpad(nextval('customer_no')::text, 8, '0'), btrim(a->>'name'),
            ARRAY(SELECT DISTINCT norm_phone(x) FROM jsonb_array_elements_text(a->'phones') x),
            a->>'address', coalesce(a->'consent', '{"sms": true, "phone": true}'),
            coalesce(a->>'tier', 'regular'), nullif(a->>'account_owner', ''), v_center)
    RETURNING * INTO c;
    PERFORM customer_add_phones(c.id, a);
    PERFORM audit_write(p, p_req, 'create', 'customer', c.id, jsonb_build_object('tier', c.tier));
    PERFORM customer_event(p_req, c, 'registered');
    RETURN jsonb_build_object('status', 201, 'body', customer_json(c, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_update_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers := customer_for_update(p, a->>'id');
    v_tier text := coalesce(nullif(a->>'tier', ''), c.tier);
    v_owner text := CASE WHEN a ? 'account_owner' THEN nullif(a->>'account_owner', '') ELSE c.account_owner END;
BEGIN
    IF c.erased_at IS NOT NULL THEN
        PERFORM fail(409, 'erased', format('customer %s was erased and cannot be changed', c.id));
    END IF;
    PERFORM customer_check(a, false);
    IF v_tier <> 'regular' AND v_owner IS NULL THEN
        PERFORM fail(400, 'validation', 'account_owner: a key or VIP customer needs a named account owner');
    END IF;
    PERFORM customer_add_phones(c.id, a);
    UPDATE customers SET
        name = coalesce(nullif(btrim(a->>'name'), ''), name),
        phones = ARRAY(SELECT DISTINCT x FROM unnest(phones || ARRAY(
                     SELECT norm_phone(y) FROM jsonb_array_elements_text(coalesce(a->'phones', '[]')) y)) x),
        address = CASE WHEN a ? 'address' THEN a->>'address' ELSE address END,
        consent = CASE WHEN a ? 'consent' THEN consent || a->'consent' ELSE consent END,
        tier = v_tier, account_owner = v_owner, updated_at = now()
    WHERE id = c.id RETURNING * INTO c;
    PERFORM audit_write(p, p_req, 'update', 'customer', c.id, jsonb_build_object('tier', c.tier));
    PERFORM customer_event(p_req, c, 'updated');
    RETURN jsonb_build_object('status', 200, 'body', customer_json(c, true));
END $$;

-- Erase a customer (admin only, with a reason): the record keeps its id, tickets and devices;
-- name, phones, address and consent are replaced; the phones are freed (a new ticket with an
-- old phone registers a new customer); the personal fields of the customer's tickets and calls,
-- of the events already in the outbox about them and of the stored command replies are blanked.
-- intake.CustomerChanged (change erased) names the tickets, so that other services blank theirs.
CREATE OR REPLACE FUNCTION cmd_erase_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
    v_reason text := nullif(btrim(coalesce(a->>'reason', '')), '');
    v_tickets text[];
BEGIN
    IF p->>'role' IS DISTINCT FROM 'admin' THEN
        PERFORM fail(403, 'forbidden', 'only an administrator erases customers');
    END IF;
    IF coalesce(a->>'id', '') = '' THEN
        PERFORM fail(400, 'validation', 'id: is required');
    END IF;
    IF v_reason IS NULL THEN
        PERFORM fail(400, 'validation', 'reason: is required');
    ELSIF length(v_reason) > 500 THEN
        PERFORM fail(400, 'validation', 'reason: is longer than 500');
    END IF;
    c := customer_for_update(p, a->>'id');
    IF c.erased_at IS NOT NULL THEN
        PERFORM fail(409, 'already_erased', format('customer %s was erased already', c.id));
    END IF;
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO v_tickets
        FROM tickets WHERE customer_id = c.id;
    DELETE FROM customer_phones WHERE customer_id = c.id;
    UPDATE customers SET name = 'erased', phones = '{}', address = NULL,
                         consent = '{"sms": false, "phone": false, "email": false, "wechat": false}',
                         erased_at = now(), erased_by = coalesce(p->>'subject', 'unknown'), erase_reason = v_reason,
                         updated_at = now()
        WHERE id = c.id RETURNING * INTO c;
    UPDATE tickets SET customer_name = 'erased', customer_phone = ''
        WHERE customer_id = c.id;
    UPDATE calls SET customer_name = NULL, customer_phone = NULL
        WHERE ticket_id = ANY (v_tickets);
    -- what is already on the bus about these tickets: no name or phone stays in the outbox
    UPDATE outbox SET payload = payload - 'customer' - 'customer_name' - 'customer_phone'
        WHERE payload->>'ticket_id' = ANY (v_tickets)
          AND (payload ? 'customer' OR payload ? 'customer_name' OR payload ? 'customer_phone');
    UPDATE outbox SET payload = payload - 'customer' - 'customer_name' - 'customer_phone'
        WHERE payload->>'id' = ANY (v_tickets) AND payload ? 'customer';
    -- stored replies (idempotent retries) of commands on these tickets
    UPDATE commands SET reply = jsonb_set(reply, '{body,customer}',
                                          '{"name": "erased", "phone": ""}'::jsonb)
        WHERE reply->'body'->>'id' = ANY (v_tickets) AND reply->'body' ? 'customer';
    DELETE FROM commands WHERE reply->'body'->>'id' = c.id;
    PERFORM audit_write(p, p_req, 'erase', 'customer', c.id,
                        jsonb_build_object('reason', v_reason, 'tickets', cardinality(v_tickets)));
    PERFORM emit('intake', 'intake.CustomerChanged', jsonb_strip_nulls(jsonb_build_object(
        'customer_id', c.id, 'change', 'erased', 'tier', c.tier,
        'account_owner', c.account_owner, 'center', c.center,
        'ticket_ids', to_jsonb(v_tickets))), p_req);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', customer_json(c, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_get_customer(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p, p_req, 'read', 'customer', c.id, '{}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', customer_json(c, true));
END $$;

-- Customers by phone or name prefix, paged by id (`after`).
CREATE OR REPLACE FUNCTION cmd_list_customers(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_phone text := norm_phone(a->>'phone');
    v_name text := lower(nullif(btrim(a->>'name'), ''));
    v_imei text := nullif(btrim(a->>'imei'), '');
    v_rows jsonb;
    v_n int;
BEGIN
    IF p->>'role' NOT IN ('admin', 'center') THEN
        PERFORM fail(403, 'forbidden', 'customers are read by admin and the centre desks only');
    END IF;
    -- A phone prefix is looked up in the phones first (a range of the pattern index: byte-wise,
    -- whatever the database's collation; ':' follows every digit and '+'), so that the page does
    -- not walk every customer before the first match (decision 0033).
    SELECT coalesce(jsonb_agg(customer_json(c, false) ORDER BY c.id), '[]'), count(*)
        INTO v_rows, v_n
    FROM (SELECT * FROM customers c
          WHERE (v_phone IS NULL OR c.id IN (SELECT cp.customer_id FROM customer_phones cp
                     WHERE cp.phone ~>=~ v_phone AND cp.phone ~<~ (v_phone || ':')))
            AND (v_name IS NULL OR lower(c.name) LIKE v_name || '%')
            AND (v_imei IS NULL OR EXISTS (SELECT 1 FROM devices d
                     WHERE d.customer_id = c.id AND (d.device_key = v_imei OR d.imei = v_imei
                                                     OR d.vin = v_imei)))
            AND c.erased_at IS NULL
            AND (a->>'after' IS NULL OR c.id > a->>'after')
            AND may_see_customer(p, c)
          ORDER BY c.id LIMIT v_limit) c;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'customers', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_customer_devices(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_customer(p, c) THEN
        PERFORM fail(404, 'not_found', format('customer %s not found', a->>'id'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('devices',
        (SELECT coalesce(jsonb_agg(device_json(d, true) ORDER BY d.first_seen_at, d.device_key), '[]')
         FROM devices d WHERE d.customer_id = c.id)));
END $$;

-- A device by IMEI (or VIN), with its repair history at every centre.
CREATE OR REPLACE FUNCTION cmd_get_device(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d devices;
BEGIN
    SELECT * INTO d FROM devices WHERE device_key = a->>'imei';
    IF NOT FOUND OR NOT may_see_device(p, d) THEN
        PERFORM fail(404, 'not_found', format('device %s not found', a->>'imei'));
    END IF;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', device_json(d, true));
END $$;

-- Devices by IMEI, serial or VIN prefix (at least one), paged by device key (`after`); only
-- the devices the principal may read (may_see_device), without their history.
CREATE OR REPLACE FUNCTION cmd_list_devices(p_req text, p jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int;
    v_imei text := nullif(btrim(coalesce(a->>'imei', '')), '');
    v_serial text := nullif(btrim(coalesce(a->>'serial', '')), '');
    v_vin text := upper(nullif(btrim(coalesce(a->>'vin', '')), ''));
    v_rows jsonb;
    v_n int;
BEGIN
    IF p->>'role' NOT IN ('admin', 'reviewer', 'region', 'center') THEN
        PERFORM fail(403, 'forbidden', 'devices are read by admin, reviewers, regions and centre desks');
    END IF;
    v_limit := CASE WHEN coalesce(a->>'limit', '') = '' THEN 50
                    WHEN a->>'limit' ~ '^[0-9]{1,4}$' THEN (a->>'limit')::int ELSE 0 END;
    IF v_limit NOT BETWEEN 1 AND 200 THEN
        PERFORM fail(400, 'validation', 'limit: must be 1 to 200');
    END IF;
    IF v_imei IS NULL AND v_serial IS NULL AND v_vin IS NULL THEN
        PERFORM fail(400, 'validation', 'imei: give an imei, serial or vin prefix');
    END IF;
    IF length(coalesce(v_imei, '') || coalesce(v_serial, '') || coalesce(v_vin, '')) < 4 THEN
        PERFORM fail(400, 'validation', 'imei: a prefix needs at least 4 characters');
    END IF;
    SELECT coalesce(jsonb_agg(device_json(d, false) ORDER BY d.device_key), '[]'), count(*)
        INTO v_rows, v_n
    FROM (SELECT * FROM devices d
          WHERE (v_imei IS NULL OR d.imei LIKE v_imei || '%')
            AND (v_serial IS NULL OR d.serial LIKE v_serial || '%')
            AND (v_vin IS NULL OR upper(d.vin) LIKE v_vin || '%')
            AND (coalesce(a->>'after', '') = '' OR d.device_key > a->>'after')
            AND may_see_device(p, d)
          ORDER BY d.device_key LIMIT v_limit) d;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'devices', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'key' END));
END $$;

CREATE OR REPLACE FUNCTION tickets_announce_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = NEW.customer_id;
    IF FOUND THEN
        PERFORM emit('intake', 'intake.CustomerLinked', jsonb_strip_nulls(jsonb_build_object(
            'ticket_id', NEW.id, 'customer_id', c.id, 'tier', c.tier,
            'account_owner', c.account_owner, 'center', NEW.center)));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER tickets_announce_customer AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_announce_customer();

-- PL/pgSQL: as SQL (a subquery, so never inlined) it was planned again on every ticket opened
-- (decision 36).
CREATE OR REPLACE FUNCTION service_level_hours(p_center text, p_category text) RETURNS int
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v int;
BEGIN
    SELECT hours INTO v FROM service_levels
     WHERE center IN (p_center, '*') AND category IN (p_category, '*')
     ORDER BY (center = '*'), (category = '*') LIMIT 1;
    RETURN coalesce(v, setting('promise_default_h')::int, 72);
END $$;

-- When the timer next has to look at a running promise at this level.
CREATE OR REPLACE FUNCTION promise_check_at(p_promised timestamptz, p_level text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE p_level
        WHEN 'desk' THEN p_promised
        WHEN 'centre_manager' THEN p_promised + make_interval(hours => coalesce(setting('promise_region_after_h'), 24)::int)
        END
$$;

-- The promise as it stands now: while paused, the date moves with the clock.
CREATE OR REPLACE FUNCTION promise_due(t tickets) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.paused_since IS NOT NULL AND t.promise_met_at IS NULL
                THEN t.promised_at + (svc_now() - t.paused_since) ELSE t.promised_at END
$$;

CREATE OR REPLACE FUNCTION promise_overdue(t tickets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT t.promised_at IS NOT NULL AND t.promise_met_at IS NULL AND svc_now() > promise_due(t)
$$;

CREATE OR REPLACE FUNCTION promise_at_risk(t tickets) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT t.promised_at IS NOT NULL AND t.promise_met_at IS NULL AND t.paused_since IS NULL
           AND svc_now() <= t.promised_at
           AND svc_now() > t.promised_at - make_interval(secs => t.promise_h * 36
                                                          * coalesce(setting('promise_at_risk_pct'), 25))
$$;

CREATE OR REPLACE FUNCTION tickets_promise_clock() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz;  -- the service clock, read only when a branch below needs it
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_now := svc_now();
        NEW.promise_h := service_level_hours(NEW.center, NEW.category);
        NEW.promised_at := v_now + make_interval(hours => NEW.promise_h);
        NEW.promise_level := 'desk';
        NEW.promise_next_check_at := NEW.promised_at;
    END IF;
    IF NEW.promised_at IS NULL OR NEW.promise_met_at IS NOT NULL THEN
        RETURN NEW;  -- tickets opened before promises existed, or a clock already stopped
    END IF;
    IF (NEW.paused_since IS NOT NULL AND NEW.state <> 'estimate_pending')
       OR NEW.state IN ('ready', 'closed', 'cancelled', 'declined', 'refunded', 'exchanged', 'returned',
                        'estimate_pending') THEN
        v_now := coalesce(v_now, svc_now());
    END IF;
    -- leaving a pause: the promise moves by the time the customer took
    IF NEW.paused_since IS NOT NULL AND NEW.state <> 'estimate_pending' THEN
        NEW.promised_at := NEW.promised_at + (v_now - NEW.paused_since);
        NEW.paused_since := NULL;
        NEW.promise_next_check_at := promise_check_at(NEW.promised_at, NEW.promise_level);
    END IF;
    IF NEW.state IN ('ready', 'closed', 'cancelled', 'declined', 'refunded', 'exchanged', 'returned') THEN
        NEW.promise_met_at := v_now;
        NEW.promise_next_check_at := NULL;
    ELSIF NEW.state = 'estimate_pending' AND NEW.paused_since IS NULL THEN
        NEW.paused_since := v_now;
        NEW.promise_next_check_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER tickets_promise_clock BEFORE INSERT OR UPDATE OF state ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_promise_clock();

-- The timer's work: every running promise whose check is due moves one level up (and again, if
-- the service was down past the next step too), with a timeline row and intake.PromiseEscalated
-- in the same transaction. Returns the number of escalations.
CREATE OR REPLACE FUNCTION escalate_promises_due() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    v_n int := 0;
    v_now timestamptz := svc_now();
    v_to text;
BEGIN
    FOR t IN SELECT * FROM tickets WHERE promise_next_check_at <= v_now ORDER BY promise_next_check_at, id
             FOR UPDATE SKIP LOCKED LOOP
        WHILE t.promise_next_check_at IS NOT NULL AND t.promise_next_check_at <= v_now LOOP
            v_to := CASE t.promise_level WHEN 'desk' THEN 'centre_manager' ELSE 'region' END;
            UPDATE tickets SET promise_level = v_to,
                               promise_next_check_at = promise_check_at(promised_at, v_to)
                WHERE id = t.id RETURNING * INTO t;
            INSERT INTO ticket_timeline(ticket_id, from_state, to_state, event, actor, note)
                VALUES (t.id, t.state, t.state, 'promise_escalated', 'intake',
                        format('promised by %s, not ready: escalated to %s',
                               to_char(t.promised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), v_to));
            PERFORM emit('intake', 'intake.PromiseEscalated', jsonb_build_object(
                'ticket_id', t.id, 'center', t.center, 'region', t.region, 'category', t.category,
                'from_level', CASE v_to WHEN 'centre_manager' THEN 'desk' ELSE 'centre_manager' END,
                'to_level', v_to,
                'promised_at', to_char(t.promised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'escalated_at', to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'state', t.state));
            v_n := v_n + 1;
        END LOOP;
    END LOOP;
    -- the on-site service orders' response promises ride on the same timer (visits.sql)
    RETURN v_n + escalate_service_orders_due();
END $$;

-- NULL when no promise is running (the timer then looks again after promise_poll_s). It said 0
-- then (greatest() skips a NULL), and the timer checked again at once, in a loop: a quarter of
-- a core in intake's backend while no promise ran (measured by `make bench`'s idle phase).
CREATE OR REPLACE FUNCTION promise_next_check_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN min(at) IS NOT NULL
                THEN greatest(0, ceil(extract(epoch FROM min(at) - svc_now()) * 1000))::bigint END
    FROM (SELECT min(promise_next_check_at) AS at FROM tickets WHERE promise_next_check_at IS NOT NULL
          UNION ALL
          SELECT min(promise_next_check_at) FROM service_orders WHERE promise_next_check_at IS NOT NULL) x
$$;

CREATE OR REPLACE FUNCTION promise_json(t tickets) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_now timestamptz;
    v_due timestamptz;
BEGIN
    -- promise_due(), promise_at_risk() and promise_overdue() with the service clock read once
    -- (this is on every ticket's reply)
    IF t.promised_at IS NULL THEN
        RETURN '{}';
    END IF;
    v_now := svc_now();
    v_due := CASE WHEN t.paused_since IS NOT NULL AND t.promise_met_at IS NULL
                  THEN t.promised_at + (v_now - t.paused_since) ELSE t.promised_at END;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'promised_at', to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'promise_hours', t.promise_h,
        'at_risk', t.promise_met_at IS NULL AND t.paused_since IS NULL AND v_now <= t.promised_at
                   AND v_now > t.promised_at - make_interval(secs => t.promise_h * 36
                                                             * coalesce(setting('promise_at_risk_pct'), 25)),
        'overdue', t.promise_met_at IS NULL AND v_now > v_due,
        'promise_paused', t.paused_since IS NOT NULL AND t.promise_met_at IS NULL,
        'promise_level', t.promise_level,
        'promise_met_at', to_char(t.promise_met_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'promise_kept', CASE WHEN t.promise_met_at IS NOT NULL AND t.state IN ('ready', 'closed')
                             THEN t.promise_met_at <= t.promised_at END));
END $$;

-- GET /v1/promises: running promises at risk or overdue (or both), in scope, most urgent first.
CREATE OR REPLACE FUNCTION cmd_list_promises(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_status text := coalesce(nullif(a->>'status', ''), 'all');
    v_mask boolean := NOT sees_phones(p_principal);
    v_rows jsonb;
BEGIN
    WITH page AS (
        SELECT t FROM tickets t
        WHERE t.promise_met_at IS NULL AND t.promised_at IS NOT NULL
          AND may_see(p_principal, t.center, t.region)
          AND (a->>'center' IS NULL OR t.center = a->>'center')
          AND CASE v_status WHEN 'overdue' THEN promise_overdue(t)
                            WHEN 'at_risk' THEN promise_at_risk(t)
                            ELSE promise_overdue(t) OR promise_at_risk(t) END
        ORDER BY promise_due(t), t.id
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(CASE WHEN v_mask
                                   THEN jsonb_set(ticket_json(page.t, false), '{customer,phone}',
                                                  to_jsonb(mask_phone((page.t).customer_phone)))
                                   ELSE ticket_json(page.t, false) END), '[]')
        INTO v_rows FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('tickets', v_rows));
END $$;

-- GET /v1/reports/promises: per centre in scope, running promises, at risk, overdue, and of the
-- promises that ended by a repair (ready/closed) in [from, to] (business dates), kept and missed.
CREATE OR REPLACE FUNCTION cmd_promise_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (svc_now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_rows jsonb;
BEGIN
    IF v_from > v_to THEN
        PERFORM fail(400, 'validation', 'from: is after to');
    END IF;
    -- Two reads per centre, each from its own index (migration 440): the running promises (few)
    -- and the promises that ended in the period (a range of promise_met_at) — not every ticket
    -- the centre ever had (decision 0033).
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'center', c.code, 'region', c.region, 'open', r.open, 'at_risk', r.at_risk,
               'overdue', r.overdue, 'escalated', r.escalated, 'kept', k.kept, 'missed', k.missed,
               'kept_pct', CASE WHEN k.kept + k.missed > 0
                                THEN round(100.0 * k.kept / (k.kept + k.missed), 1) END)
               ORDER BY c.code), '[]')
        INTO v_rows
    FROM centers c
    CROSS JOIN LATERAL (
        SELECT count(*) AS open,
               count(*) FILTER (WHERE promise_at_risk(t)) AS at_risk,
               count(*) FILTER (WHERE promise_overdue(t)) AS overdue,
               count(*) FILTER (WHERE t.promise_level <> 'desk') AS escalated
        FROM tickets t
        WHERE t.center = c.code AND t.promised_at IS NOT NULL AND t.promise_met_at IS NULL) r
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.promise_met_at <= t.promised_at) AS kept,
               count(*) FILTER (WHERE t.promise_met_at > t.promised_at) AS missed
        FROM tickets t
        WHERE t.center = c.code AND t.promised_at IS NOT NULL AND t.promise_met_at IS NOT NULL
          AND t.state IN ('ready', 'closed')
          AND t.promise_met_at >= (v_from::timestamp AT TIME ZONE 'Asia/Shanghai')
          AND t.promise_met_at < ((v_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')) k
    WHERE may_see(p_principal, c.code, c.region)
      AND (a->>'center' IS NULL OR c.code = a->>'center');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'from', v_from::text, 'to', v_to::text, 'rows', v_rows));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_service_levels(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'default_hours', coalesce(setting('promise_default_h'), 72),
        'levels', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'center', s.center, 'category', s.category, 'hours', s.hours,
                       'updated_by', s.updated_by,
                       'updated_at', to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                       ORDER BY s.center, s.category), '[]')
                   FROM service_levels s
                   WHERE (a->>'center' IS NULL OR s.center IN (a->>'center', '*'))
                     AND (s.center = '*' OR EXISTS (SELECT 1 FROM centers c WHERE c.code = s.center
                                                    AND may_see(p_principal, c.code, c.region))))));
END $$;

-- POST /v1/service-levels (admin): set one level; hours 0 removes it (back to the fallback).
CREATE OR REPLACE FUNCTION cmd_set_service_level(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_center text := a->>'center';
    v_category text := a->>'category';
    v_hours int := (a->>'hours')::int;
BEGIN
    IF v_center <> '*' AND NOT EXISTS (SELECT 1 FROM centers WHERE code = v_center) THEN
        PERFORM fail(422, 'unknown_center', format('center: %s does not exist', v_center));
    END IF;
    IF v_hours = 0 THEN
        DELETE FROM service_levels WHERE center = v_center AND category = v_category;
    ELSE
        INSERT INTO service_levels(center, category, hours, updated_by)
        VALUES (v_center, v_category, v_hours, coalesce(p_principal->>'subject', 'unknown'))
        ON CONFLICT (center, category) DO UPDATE
            SET hours = EXCLUDED.hours, updated_at = now(), updated_by = EXCLUDED.updated_by;
    END IF;
    PERFORM audit_write(p_principal, p_req, 'service_level_set', 'service_level',
                        v_center || '/' || v_category, jsonb_build_object('hours', v_hours));
    RETURN jsonb_build_object('status', 200, 'body', jsonb_build_object(
        'center', v_center, 'category', v_category, 'hours', v_hours,
        'effective_hours', service_level_hours(CASE WHEN v_center = '*' THEN '' ELSE v_center END,
                                               CASE WHEN v_category = '*' THEN '' ELSE v_category END)));
END $$;

CREATE OR REPLACE FUNCTION call_json(c calls, p_mask boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', c.id, 'direction', c.direction, 'channel', c.channel, 'category', c.category,
        'outcome', c.outcome, 'customer_name', c.customer_name,
        'customer_phone', CASE WHEN p_mask THEN mask_phone(c.customer_phone) ELSE c.customer_phone END,
        'ticket_id', c.ticket_id, 'complaint_id', c.complaint_id,
        'complaint_pending', c.complaint IS NOT NULL AND c.complaint_id IS NULL,
        'center', c.center, 'region', c.region, 'summary', c.summary, 'agent', c.agent,
        'duration_s', c.duration_s,
        'started_at', to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'recorded_at', to_char(c.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'service_order_id', c.service_order_id))
$$;

-- POST /v1/calls. `a` is validated field by field in C (services/intake/main.c); here: the
-- references (ticket, complaint, centre) and the one-step ticket.
CREATE OR REPLACE FUNCTION cmd_record_call(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    c calls;
    v_center text := nullif(a->>'center', '');
    v_region text;
    v_ticket text := nullif(a->>'ticket_id', '');
    v_name text := nullif(a->'customer'->>'name', '');
    v_phone text := nullif(a->'customer'->>'phone', '');
    v_open jsonb;
    v_order text;
BEGIN
    IF v_ticket IS NOT NULL THEN
        SELECT * INTO t FROM tickets WHERE id = v_ticket;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_ticket', format('ticket_id: ticket %s does not exist', v_ticket));
        ELSIF NOT may_see(p_principal, t.center, t.region) THEN
            PERFORM fail(404, 'not_found', format('ticket %s not found', v_ticket));
        END IF;
    END IF;
    IF a->'ticket' IS NOT NULL THEN
        -- a repair request: the ticket opens now, in this transaction (a refusal refuses the call)
        v_open := cmd_open_ticket(p_req, p_principal, a->'ticket');
        SELECT * INTO t FROM tickets WHERE id = v_open->'body'->>'id';
        v_ticket := t.id;
    END IF;
    IF a->'service_order' IS NOT NULL THEN
        -- a repair request for a visit: the on-site order opens now, in this transaction
        v_open := cmd_create_service_order(p_req, p_principal,
                                           jsonb_strip_nulls(a->'service_order' || jsonb_build_object(
                                               'center', coalesce(a#>>'{service_order,center}', v_center),
                                               'ticket_id', coalesce(a#>>'{service_order,ticket_id}', v_ticket))));
        v_order := v_open->'body'->>'id';
        v_center := coalesce(v_center, v_open->'body'->>'center');
        v_name := coalesce(v_name, a#>>'{service_order,customer,name}');
        v_phone := coalesce(v_phone, a#>>'{service_order,customer,phone}');
    END IF;
    IF nullif(a->>'complaint_id', '') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM tickets x WHERE (a->>'complaint_id') = ANY (x.complaints)
                                                 AND may_see(p_principal, x.center, x.region))
       AND NOT EXISTS (SELECT 1 FROM calls x WHERE x.complaint_id = a->>'complaint_id'
                                               AND (x.center IS NULL AND p_principal->>'role' = 'admin'
                                                    OR may_see(p_principal, x.center, x.region))) THEN
        PERFORM fail(422, 'unknown_complaint',
                     format('complaint_id: complaint %s is not known here', a->>'complaint_id'));
    END IF;
    IF v_ticket IS NULL AND nullif(a->>'complaint_id', '') IS NOT NULL THEN
        -- a call about a complaint of a ticket is about that ticket (and its customer)
        SELECT * INTO t FROM tickets x WHERE (a->>'complaint_id') = ANY (x.complaints) LIMIT 1;
        IF FOUND THEN
            v_ticket := t.id;
        ELSE
            SELECT coalesce(v_name, x.customer_name), coalesce(v_phone, x.customer_phone),
                   coalesce(v_center, x.center)
                INTO v_name, v_phone, v_center
                FROM calls x WHERE x.complaint_id = a->>'complaint_id' ORDER BY x.started_at LIMIT 1;
        END IF;
    END IF;
    IF v_ticket IS NOT NULL THEN
        v_center := coalesce(v_center, t.center);
        v_name := coalesce(v_name, t.customer_name);
        v_phone := coalesce(v_phone, t.customer_phone);
    END IF;
    IF v_center IS NULL AND p_principal->>'role' = 'center' THEN
        v_center := p_principal->>'site';
    END IF;
    IF v_center IS NOT NULL THEN
        SELECT region INTO v_region FROM centers WHERE code = v_center;
        IF NOT FOUND THEN
            PERFORM fail(422, 'unknown_center', format('center: centre %s does not exist', v_center));
        END IF;
        IF NOT may_see(p_principal, v_center, v_region) THEN
            PERFORM fail(403, 'forbidden', format('you may not record calls for centre %s', v_center));
        END IF;
    ELSIF p_principal->>'role' <> 'admin' THEN
        PERFORM fail(400, 'validation', 'center: is required for a call without a ticket');
    END IF;
    INSERT INTO calls(id, direction, channel, category, outcome, customer_name, customer_phone,
                      ticket_id, complaint_id, complaint, center, region, summary, agent,
                      duration_s, started_at, request_id, service_order_id)
    VALUES ('CL' || lpad(nextval('call_no')::text, 8, '0'), a->>'direction',
            coalesce(a->>'channel', 'phone'), a->>'category', coalesce(a->>'outcome', 'answered'),
            v_name, v_phone, v_ticket, nullif(a->>'complaint_id', ''), a->'complaint', v_center,
            v_region, a->>'summary', coalesce(p_principal->>'subject', 'unknown'),
            coalesce((a->>'duration_s')::int, 0),
            coalesce((a->>'started_at')::timestamptz, now()), p_req, v_order)
    RETURNING * INTO c;
    IF v_order IS NOT NULL THEN
        UPDATE service_orders SET call_id = c.id WHERE id = v_order;
    END IF;
    IF c.complaint IS NOT NULL THEN
        PERFORM emit('intake', 'intake.CallLogged', jsonb_strip_nulls(jsonb_build_object(
            'call_id', c.id, 'center', c.center, 'region', c.region, 'category', c.category,
            'channel', c.channel, 'ticket_id', c.ticket_id,
            'customer', jsonb_build_object('name', c.customer_name, 'phone', c.customer_phone),
            'complaint', c.complaint, 'agent', c.agent, 'summary', c.summary,
            'started_at', to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
            p_req);
    END IF;
    PERFORM audit_write(p_principal, p_req, 'record', 'call', c.id,
                        jsonb_build_object('category', c.category, 'ticket', c.ticket_id,
                                           'service_order', c.service_order_id));
    RETURN jsonb_build_object('status', 201, 'body', call_json(c, NOT sees_phones(p_principal)));
END $$;

CREATE OR REPLACE FUNCTION may_see_call(p_principal jsonb, c calls) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.center IS NULL THEN coalesce(p_principal->>'role', '') IN ('admin', 'reviewer')
                ELSE may_see(p_principal, c.center, c.region) END
$$;

CREATE OR REPLACE FUNCTION cmd_get_call(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c calls;
BEGIN
    SELECT * INTO c FROM calls WHERE id = a->>'id';
    IF NOT FOUND OR NOT may_see_call(p_principal, c) THEN
        PERFORM fail(404, 'not_found', format('call %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'call', c.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', call_json(c, false));
END $$;

-- The archive: newest first, by phone, ticket, category, centre, business dates and text.
CREATE OR REPLACE FUNCTION cmd_list_calls(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_mask boolean := NOT sees_phones(p_principal);
    v_rows jsonb;
    v_n int;
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT started_at, id INTO v_after_at, v_after_id FROM calls WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'after: the cursor does not name a call');
        END IF;
    END IF;
    WITH page AS (
        SELECT c FROM calls c
        WHERE may_see_call(p_principal, c)
          AND (a->>'phone' IS NULL OR c.customer_phone = a->>'phone')
          AND (a->>'ticket_id' IS NULL OR c.ticket_id = a->>'ticket_id')
          AND (a->>'category' IS NULL OR c.category = a->>'category')
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND (a->>'from' IS NULL OR c.started_at >= ((a->>'from')::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'to' IS NULL OR c.started_at < (((a->>'to')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'q' IS NULL OR strpos(lower(c.summary || ' ' || coalesce(c.customer_name, '')),
                                         lower(a->>'q')) > 0)
          AND (v_after_id IS NULL OR (c.started_at, c.id) < (v_after_at, v_after_id))
        ORDER BY c.started_at DESC, c.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(call_json(page.c, v_mask)), '[]'), count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'calls', v_rows, 'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;

-- Statistics over business dates [from, to] (default the last 30 days): by category, by centre
-- and by hour of the day (Asia/Shanghai), each row with its outcomes and mean duration.
CREATE OR REPLACE FUNCTION cmd_call_stats(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_res jsonb;
BEGIN
    WITH sel AS (
        SELECT c.*, extract(hour FROM c.started_at AT TIME ZONE 'Asia/Shanghai')::int AS hour
        FROM calls c
        WHERE may_see_call(p_principal, c)
          AND (a->>'center' IS NULL OR c.center = a->>'center')
          AND c.started_at >= (v_from::timestamp AT TIME ZONE 'Asia/Shanghai')
          AND c.started_at < ((v_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')),
    grouped AS (
        SELECT g.dim, g.key, count(*) AS n,
               count(*) FILTER (WHERE s.outcome = 'answered') AS answered,
               count(*) FILTER (WHERE s.outcome = 'transferred') AS transferred,
               count(*) FILTER (WHERE s.outcome = 'callback_needed') AS callback_needed,
               round(avg(s.duration_s))::int AS avg_duration_s
        FROM sel s
        CROSS JOIN LATERAL (VALUES ('category', s.category), ('center', coalesce(s.center, '(head office)')),
                                   ('hour', lpad(s.hour::text, 2, '0'))) AS g(dim, key)
        GROUP BY g.dim, g.key)
    SELECT jsonb_build_object(
        'from', v_from::text, 'to', v_to::text,
        'total', (SELECT count(*) FROM sel),
        'by_category', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'category'), '[]'),
        'by_center', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'center'), '[]'),
        'by_hour', coalesce((SELECT jsonb_agg(jsonb_build_object('key', key, 'count', n,
                 'answered', answered, 'transferred', transferred, 'callback_needed', callback_needed,
                 'avg_duration_s', avg_duration_s) ORDER BY key) FROM grouped WHERE dim = 'hour'), '[]'))
        INTO v_res;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', v_res);
END $$;

CREATE OR REPLACE FUNCTION quality_rows(p_principal jsonb, p_from date, p_to date, p_manufacturer text,
                             p_brand text)
RETURNS TABLE (ticket_id text, returned date, brand text, model text, fault_code text,
               manufacturer text, parts jsonb, repeat boolean)
LANGUAGE sql STABLE AS $$
    SELECT t.id, d.returned, coalesce(t.device->>'brand', ''), coalesce(t.device->>'model', ''),
           coalesce(nullif(t.work->>'fault_code', ''), t.fault->>'code', ''),
           coalesce(t.manufacturer, ''), coalesce(t.work->'parts_used', '[]'),
           EXISTS (SELECT 1 FROM device_repairs p JOIN tickets pt ON pt.id = p.ticket_id
                   WHERE p.device_key = d.device_key AND pt.opened_at < t.opened_at
                     AND p.returned <= d.dropped_off AND d.dropped_off - p.returned <= 90)
    -- each repair's ticket by its key (OFFSET 0: not a scan of every ticket for a hash join; a
    -- period's repairs are a small part of the tickets, decision 0033)
    FROM device_repairs d
    CROSS JOIN LATERAL (SELECT * FROM tickets x WHERE x.id = d.ticket_id OFFSET 0) t
    WHERE d.returned BETWEEN p_from AND p_to
      AND may_see(p_principal, t.center, t.region)
      AND (p_manufacturer IS NULL OR lower(t.manufacturer) = lower(p_manufacturer))
      AND (p_brand IS NULL OR lower(t.device->>'brand') = lower(p_brand))
$$;

-- One dimension: rows {key, count, previous, change_pct}, biggest first, at most p_top.
CREATE OR REPLACE FUNCTION quality_dim(cur jsonb, prev jsonb, p_top int) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH c AS (SELECT key, sum(n)::int AS n FROM jsonb_to_recordset(cur) AS x(key text, n int) GROUP BY key),
         p AS (SELECT key, sum(n)::int AS n FROM jsonb_to_recordset(prev) AS x(key text, n int) GROUP BY key),
         j AS (SELECT coalesce(c.key, p.key) AS key, coalesce(c.n, 0) AS n, coalesce(p.n, 0) AS pn
               FROM c FULL JOIN p ON p.key = c.key)
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'key', key, 'count', n, 'previous', pn,
               'change_pct', CASE WHEN pn > 0 THEN round(100.0 * (n - pn) / pn, 1) END))
               ORDER BY n DESC, key), '[]')
    FROM (SELECT * FROM j WHERE n > 0 OR pn > 0 ORDER BY n DESC, key LIMIT p_top) top
$$;

CREATE OR REPLACE FUNCTION quality_report(p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_to date := coalesce((a->>'to')::date, (now() AT TIME ZONE 'Asia/Shanghai')::date);
    v_from date := coalesce((a->>'from')::date, v_to - 29);
    v_pto date;
    v_pfrom date;
    v_cur jsonb;
    v_prev jsonb;
    v_m text := nullif(a->>'manufacturer', '');
    v_b text := nullif(a->>'brand', '');
BEGIN
    IF v_from > v_to THEN
        PERFORM fail(400, 'validation', 'from: is after to');
    END IF;
    IF v_m IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(manufacturer) = lower(v_m)) THEN
        PERFORM fail(422, 'unknown_manufacturer', format('manufacturer: %s is not a known manufacturer', v_m));
    END IF;
    IF v_b IS NOT NULL AND NOT EXISTS (SELECT 1 FROM brands WHERE lower(brand) = lower(v_b)) THEN
        PERFORM fail(422, 'unknown_brand', format('brand: %s is not a known brand', v_b));
    END IF;
    v_pto := v_from - 1;
    v_pfrom := v_pto - (v_to - v_from);
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_cur FROM quality_rows(p_principal, v_from, v_to, v_m, v_b) r;
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_prev FROM quality_rows(p_principal, v_pfrom, v_pto, v_m, v_b) r;
    -- Each dimension is counted here (GROUP BY) and handed to quality_dim as a few {key, n}, not
    -- one object per repair (decision 0033: the report of a month with 100,000 tickets).
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'from', v_from::text, 'to', v_to::text,
        'previous_from', v_pfrom::text, 'previous_to', v_pto::text,
        'manufacturer', v_m, 'brand', v_b,
        'repairs', jsonb_array_length(v_cur), 'previous_repairs', jsonb_array_length(v_prev),
        'repeats', (SELECT count(*) FROM jsonb_array_elements(v_cur) e WHERE (e->>'repeat')::boolean),
        'by_brand', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT e->>'brand' AS k, count(*) AS n FROM jsonb_array_elements(v_cur) e GROUP BY 1) g),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT e->>'brand' AS k, count(*) AS n FROM jsonb_array_elements(v_prev) e GROUP BY 1) g), 100),
        'by_model', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT (e->>'brand') || ' ' || (e->>'model') AS k, count(*) AS n FROM jsonb_array_elements(v_cur) e GROUP BY 1) g),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT (e->>'brand') || ' ' || (e->>'model') AS k, count(*) AS n FROM jsonb_array_elements(v_prev) e GROUP BY 1) g), 100),
        'by_fault_code', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT e->>'fault_code' AS k, count(*) AS n FROM jsonb_array_elements(v_cur) e GROUP BY 1) g),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT e->>'fault_code' AS k, count(*) AS n FROM jsonb_array_elements(v_prev) e GROUP BY 1) g), 100),
        'by_part', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]')
               FROM (SELECT u->>'sku' AS k, sum(coalesce((u->>'qty')::int, 1)) AS n FROM jsonb_array_elements(v_cur) e, jsonb_array_elements(e->'parts') u GROUP BY 1) g),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]')
               FROM (SELECT u->>'sku' AS k, sum(coalesce((u->>'qty')::int, 1)) AS n FROM jsonb_array_elements(v_prev) e, jsonb_array_elements(e->'parts') u GROUP BY 1) g), 100),
        'by_month', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]') FROM (SELECT to_char((e->>'returned')::date, 'YYYY-MM') AS k, count(*) AS n FROM jsonb_array_elements(v_cur) e GROUP BY 1) g),
            '[]', 100),
        'repeat_hotspots', quality_dim(
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]')
               FROM (SELECT (e->>'brand') || ' ' || (e->>'model') || ' / ' || (e->>'fault_code') AS k, count(*) AS n FROM jsonb_array_elements(v_cur) e WHERE (e->>'repeat')::boolean GROUP BY 1) g),
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'n', n)), '[]')
               FROM (SELECT (e->>'brand') || ' ' || (e->>'model') || ' / ' || (e->>'fault_code') AS k, count(*) AS n FROM jsonb_array_elements(v_prev) e WHERE (e->>'repeat')::boolean GROUP BY 1) g), 20)));
END $$;

CREATE OR REPLACE FUNCTION cmd_quality_report(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', quality_report(p_principal, a));
END $$;

-- The same report as one CSV table: dimension,key,count,previous,change_pct (a header line, then
-- the rows of every dimension; the period in the first rows as dimension "period").
CREATE OR REPLACE FUNCTION csv_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- a cell a spreadsheet would run as a formula gets a leading quote; quotes are doubled
    SELECT CASE WHEN w ~ '[",\n\r]' THEN '"' || replace(w, '"', '""') || '"' ELSE w END
    FROM (SELECT CASE WHEN v ~ '^[=+@-]' THEN '''' || v ELSE coalesce(v, '') END AS w) x
$$;

CREATE OR REPLACE FUNCTION cmd_quality_csv(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r jsonb := quality_report(p_principal, a);
    v_csv text;
BEGIN
    SELECT 'dimension,key,count,previous,change_pct' || E'\n'
           || format('period,%s..%s,%s,%s,', r->>'from', r->>'to', r->>'repairs', r->>'previous_repairs') || E'\n'
           || coalesce(string_agg(format('%s,%s,%s,%s,%s', d.dim, csv_field(e.v->>'key'), e.v->>'count',
                                         e.v->>'previous', coalesce(e.v->>'change_pct', '')), E'\n'
                                  ORDER BY d.ord, e.n), '') || E'\n'
        INTO v_csv
    FROM (VALUES (1, 'brand', 'by_brand'), (2, 'model', 'by_model'), (3, 'fault_code', 'by_fault_code'),
                 (4, 'part', 'by_part'), (5, 'month', 'by_month'), (6, 'repeat_hotspot', 'repeat_hotspots'))
             AS d(ord, dim, field),
         jsonb_array_elements(r->d.field) WITH ORDINALITY AS e(v, n);
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('csv', v_csv));
END $$;
