-- intake: the customer's status page (GET /v1/status/{ticket_no}, POST .../estimate; docs/intake.md
-- "Status page"). One current definition per function, applied with CREATE OR REPLACE after the
-- numbered migrations on every start (the runner skips an unchanged file). Change a function here,
-- in place; a new migration holds only tables, data changes and drops.
--
-- The caller is not signed in: the ticket number and the last four digits of the phone the ticket
-- was opened with are the credentials. An unknown ticket and a wrong phone are the same 404 (same
-- code, same message), so the page cannot be used to find out which ticket numbers exist. The
-- answer carries only what the customer should see: never a name, phone, address or note.

-- The state in the customer's two languages.
CREATE OR REPLACE FUNCTION status_state_words(p_state text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE p_state
        WHEN 'received' THEN '{"zh_cn": "已受理", "en": "Received"}'
        WHEN 'adjudicated' THEN '{"zh_cn": "已完成三包判定，等待检测", "en": "Warranty checked, waiting for diagnosis"}'
        WHEN 'awaiting_review' THEN '{"zh_cn": "三包判定复核中", "en": "Warranty decision under review"}'
        WHEN 'estimate_pending' THEN '{"zh_cn": "待您确认报价", "en": "Waiting for your decision on the estimate"}'
        WHEN 'in_repair' THEN '{"zh_cn": "维修中", "en": "Being repaired"}'
        WHEN 'awaiting_parts' THEN '{"zh_cn": "等待配件", "en": "Waiting for parts"}'
        WHEN 'ready' THEN '{"zh_cn": "可以取件", "en": "Ready for pickup"}'
        WHEN 'closed' THEN '{"zh_cn": "已取件，服务完成", "en": "Collected, service complete"}'
        WHEN 'cancelled' THEN '{"zh_cn": "已取消", "en": "Cancelled"}'
        WHEN 'declined' THEN '{"zh_cn": "您已拒绝报价，请到店取回", "en": "Estimate declined; please collect your product"}'
        WHEN 'refunded' THEN '{"zh_cn": "已退货退款", "en": "Refunded"}'
        WHEN 'exchanged' THEN '{"zh_cn": "已换货", "en": "Exchanged"}'
        WHEN 'returned' THEN '{"zh_cn": "未修复，已退还", "en": "Returned unrepaired"}'
        ELSE jsonb_build_object('zh_cn', p_state, 'en', p_state) END::jsonb;
END $$;

-- The timeline events a customer is shown (anything else, e.g. an internal escalation, is not),
-- in the two languages; NULL for an event that is not shown.
CREATE OR REPLACE FUNCTION status_step_words(p_event text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE p_event
        WHEN 'opened' THEN '{"zh_cn": "受理", "en": "Received at the service centre"}'
        WHEN 'warranty_decided' THEN '{"zh_cn": "三包判定", "en": "Warranty checked"}'
        WHEN 'diagnosed' THEN '{"zh_cn": "检测完成", "en": "Diagnosed"}'
        WHEN 'estimate_revised' THEN '{"zh_cn": "报价已更新", "en": "Estimate revised"}'
        WHEN 'estimate_accepted' THEN '{"zh_cn": "已确认报价", "en": "Estimate accepted"}'
        WHEN 'estimate_declined' THEN '{"zh_cn": "已拒绝报价", "en": "Estimate declined"}'
        WHEN 'parts_requested' THEN '{"zh_cn": "已订配件", "en": "Parts ordered"}'
        WHEN 'parts_reserved' THEN '{"zh_cn": "配件已到", "en": "Parts available"}'
        WHEN 'repair_completed' THEN '{"zh_cn": "维修完成", "en": "Repair completed"}'
        WHEN 'handed_back' THEN '{"zh_cn": "已交还", "en": "Handed back"}'
        WHEN 'cancelled' THEN '{"zh_cn": "已取消", "en": "Cancelled"}'
        WHEN 'returned_unrepaired' THEN '{"zh_cn": "未修复退还", "en": "Returned unrepaired"}'
        ELSE NULL END::jsonb;
END $$;

-- The ticket for the status page: the row (locked when p_lock) when the number exists and the
-- last four digits of its phone match; otherwise the one 404 of the page.
CREATE OR REPLACE FUNCTION status_ticket(a jsonb, p_lock boolean) RETURNS tickets
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    IF p_lock THEN
        SELECT * INTO t FROM tickets WHERE id = a->>'ticket_no' FOR UPDATE;
    ELSE
        SELECT * INTO t FROM tickets WHERE id = a->>'ticket_no';
    END IF;
    IF NOT FOUND OR coalesce(a->>'phone_last4', '') !~ '^[0-9]{4}$'
       OR right(regexp_replace(coalesce(t.customer_phone, ''), '[^0-9]', '', 'g'), 4) <> a->>'phone_last4' THEN
        PERFORM fail(404, 'not_found', 'no ticket with this number and phone');
    END IF;
    RETURN t;
END $$;

-- What the page shows of ticket t.
CREATE OR REPLACE FUNCTION status_json(t tickets) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_center_name text;
    v_ready_at timestamptz;
    v_promised text;
BEGIN
    SELECT name INTO v_center_name FROM centers WHERE code = t.center;
    v_promised := coalesce(t.work->>'promised_date',
                           CASE WHEN t.promised_at IS NOT NULL
                                THEN (promise_due(t) AT TIME ZONE 'Asia/Shanghai')::date::text END);
    IF t.state = 'ready' THEN
        SELECT max(at) INTO v_ready_at FROM ticket_timeline
            WHERE ticket_id = t.id AND to_state = 'ready';
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'ticket_no', t.id,
        'state', t.state,
        'state_words', status_state_words(t.state),
        'device', nullif(trim(concat_ws(' ', t.device->>'brand', t.device->>'model')), ''),
        'opened_at', to_char(t.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'center_name', v_center_name,
        'steps', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'step', e.event,
                      'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                      'words', status_step_words(e.event)) ORDER BY e.id), '[]')
                  FROM ticket_timeline e
                  WHERE e.ticket_id = t.id AND status_step_words(e.event) IS NOT NULL),
        'promised_date', CASE WHEN t.state NOT IN ('closed', 'cancelled', 'declined', 'refunded',
                                                   'exchanged', 'returned') THEN v_promised END,
        'estimate', CASE WHEN t.state = 'estimate_pending' THEN jsonb_strip_nulls(jsonb_build_object(
                        'amount_cents', t.work->'estimate_cents',
                        'labour_code', t.work->>'labour_code',
                        'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                      'sku', l->>'sku', 'qty', (l->>'qty')::int)), '[]')
                                  FROM jsonb_array_elements(coalesce(t.work->'parts', '[]')) l))) END,
        'pickup', CASE WHEN t.state = 'ready' THEN jsonb_strip_nulls(jsonb_build_object(
                      'center', t.center, 'center_name', v_center_name,
                      'since', to_char(v_ready_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) END));
END $$;

-- intake.GetTicketStatus
CREATE OR REPLACE FUNCTION cmd_ticket_status(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := status_ticket(a, false);
BEGIN
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', status_json(t));
END $$;

-- intake.DecideEstimate: the customer's consent through the page, exactly as the desk's
-- intake.Consent (consent_apply()), with the principal the gateway gives the page ("the
-- customer, via the status page") in the timeline and the audit row. Repeating the decision
-- already taken answers the page again and changes nothing; the other decision, or any other
-- state, is 409.
CREATE OR REPLACE FUNCTION cmd_decide_estimate(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets := status_ticket(a, true);
    v_accept boolean := a->>'decision' = 'accept';
    v_same text := CASE WHEN a->>'decision' = 'accept' THEN 'estimate_accepted' ELSE 'estimate_declined' END;
    v_last text;
BEGIN
    IF t.state <> 'estimate_pending' THEN
        SELECT event INTO v_last FROM ticket_timeline
            WHERE ticket_id = t.id AND event IN ('estimate_accepted', 'estimate_declined', 'estimate_revised')
            ORDER BY id DESC LIMIT 1;
        IF v_last = v_same THEN
            RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', status_json(t));
        END IF;
        PERFORM fail(409, 'illegal_transition',
                     format('ticket %s is %s: there is no estimate waiting for your decision',
                            t.id, t.state));
    END IF;
    t := consent_apply(t, v_accept, p_principal, p_req, 'the customer, via the status page');
    RETURN jsonb_build_object('status', 200, 'body', status_json(t));
END $$;
