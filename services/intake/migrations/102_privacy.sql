-- intake: personal data. Reading a full ticket (with the customer's name and phone) writes an
-- audit row; list views mask the phone for roles that do not call customers; reads are not
-- stored as command replies.

-- Who may see customers' phone numbers in full in lists: the desks that call them, and admin.
CREATE FUNCTION sees_phones(p_principal jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(p_principal->>'role', '') IN ('admin', 'center')
$$;

CREATE OR REPLACE FUNCTION cmd_get_ticket(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = a->>'id';
    -- Another centre's ticket is indistinguishable from a missing one.
    IF NOT FOUND OR NOT may_see(p_principal, t.center, t.region) THEN
        PERFORM fail(404, 'not_found', format('ticket %s not found', a->>'id'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'read', 'ticket', t.id, '{"customer": true}');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', ticket_json(t, true));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_tickets(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_limit int := least(greatest(coalesce((a->>'limit')::int, 50), 1), 200);
    v_after_at timestamptz;
    v_after_id text;
    v_rows jsonb;
    v_n int;
    v_mask boolean := NOT sees_phones(p_principal);
BEGIN
    IF coalesce(a->>'after', '') <> '' THEN
        SELECT opened_at, id INTO v_after_at, v_after_id FROM tickets WHERE id = a->>'after';
        IF NOT FOUND THEN
            PERFORM fail(400, 'bad_cursor', 'the cursor does not name a ticket');
        END IF;
    END IF;
    WITH page AS (
        SELECT t FROM tickets t
        WHERE may_see(p_principal, t.center, t.region)
          AND (a->>'center' IS NULL OR t.center = a->>'center')
          AND (a->>'state' IS NULL OR t.state = a->>'state')
          AND (a->>'imei' IS NULL OR t.device->>'imei' = a->>'imei')
          AND (a->>'serial' IS NULL OR t.device->>'serial' = a->>'serial')
          AND (a->>'phone' IS NULL OR t.customer_phone = a->>'phone')
          AND (a->>'from' IS NULL OR t.opened_at >= ((a->>'from')::date::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (a->>'to' IS NULL OR t.opened_at < (((a->>'to')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))
          AND (v_after_id IS NULL OR (t.opened_at, t.id) < (v_after_at, v_after_id))
        ORDER BY t.opened_at DESC, t.id DESC
        LIMIT v_limit)
    SELECT coalesce(jsonb_agg(CASE WHEN v_mask
                                   THEN jsonb_set(ticket_json(page.t, false), '{customer,phone}',
                                                  to_jsonb(mask_phone((page.t).customer_phone)))
                                   ELSE ticket_json(page.t, false) END), '[]'),
           count(*) INTO v_rows, v_n FROM page;
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object(
        'tickets', v_rows,
        'next', CASE WHEN v_n = v_limit THEN v_rows->(v_n - 1)->>'id' END));
END $$;
