-- intake: the consented estimate caps the bill; work that needs more asks again (issue 14, point 6).
--
-- work.consented_estimate_cents is the estimate the customer last accepted. The repair's
-- intake.RepairCompleted carries it (consented_estimate_cents), and settlement never charges
-- the customer more than that (the rest is the centre's goodwill, docs/settlement.md).
--
-- When the work turns out to need more, the desk revises the estimate
-- (POST /v1/tickets/{id}/revise-estimate): a paid repair in in_repair or awaiting_parts goes
-- back to estimate_pending with the new estimate_cents. The next consent decides: accept goes
-- back to where the work stands (in_repair, or awaiting_parts while a part line is not
-- reserved) and makes the new estimate the cap; decline ends the ticket as a declined estimate
-- does (its part lines released, TicketClosed declined). Until then the old cap stays.

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

-- The work needs more than the customer agreed to: a new estimate, and a new consent.
CREATE FUNCTION cmd_revise_estimate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
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
