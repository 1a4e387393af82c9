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
        'loaner_unit', t.work->>'loaner_returned')),
        p_req);
END $$;

-- As in 112_diagnosis_requests_parts.sql, plus: an accepted estimate becomes the cap.
CREATE OR REPLACE FUNCTION cmd_consent(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := ticket_for_update(p_principal, a->>'id');
    v_accept boolean := coalesce((a->>'accept')::boolean, false);
    v_waiting boolean;
    v_to text;
BEGIN
    IF t.state <> 'estimate_pending' THEN
        PERFORM illegal(t, 'consent', 'estimate_pending');
    END IF;
    -- Lines requested with the diagnosis that the parts service has not reserved yet.
    v_waiting := EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(t.work->'requested', '[]')) r
                         WHERE r->>'status' IN ('requested', 'backordered'));
    v_to := CASE WHEN NOT v_accept THEN 'declined' WHEN v_waiting THEN 'awaiting_parts' ELSE 'in_repair' END;
    t := move(t, v_to,
              CASE WHEN v_accept THEN 'estimate_accepted' ELSE 'estimate_declined' END,
              p_principal, p_req, a->>'note',
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
    RETURN jsonb_build_object('status', 200, 'body', ticket_json(t, true));
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
BEGIN
    IF t.state <> 'in_repair' THEN
        PERFORM illegal(t, 'repair completion', 'in_repair');
    END IF;
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
BEGIN
    IF t.state NOT IN ('received', 'adjudicated', 'awaiting_review', 'estimate_pending',
                       'in_repair', 'awaiting_parts') THEN
        PERFORM illegal(t, 'return unrepaired',
                        'received, adjudicated, awaiting_review, estimate_pending, in_repair or awaiting_parts');
    END IF;
    PERFORM check_loaner(t, a, 'return unrepaired');
    t := move(t, 'returned', 'returned_unrepaired', p_principal, p_req, a->>'reason',
              t.work || jsonb_strip_nulls(jsonb_build_object(
                  'outcome', 'returned_unrepaired', 'loaner_returned', nullif(a->>'loaner_unit', ''))));
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
