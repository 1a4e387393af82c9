-- parts: loaners belong to real tickets (issue 14, point 7).
--
-- Parts learns which tickets are open from intake's stream: intake.TicketOpened adds a row to
-- intake_tickets (centre, customer); TicketClosed and TicketCancelled mark it ended. Lending
-- then needs an open ticket of the loaner's site: unknown ticket 422, ended ticket 409, another
-- site's ticket 422. Each loan and each return is published (parts.LoanerLent,
-- parts.LoanerReturned) so that intake knows who holds a unit: it refuses to hand a ticket back
-- while its customer holds one, unless the hand-back returns it (TicketClosed.loaner_unit, which
-- parts applies here as the unit's return). The holder's phone is shown in full to the desk of
-- the unit's own site (and admin, warehouse); other roles see it masked.

CREATE TABLE intake_tickets (
    ticket_id      text PRIMARY KEY,
    center         text,
    customer_name  text,
    customer_phone text,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz
);

CREATE FUNCTION on_intake_ticket_opened(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO intake_tickets(ticket_id, center, customer_name, customer_phone)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), nullif(e#>>'{customer,name}', ''),
                nullif(e#>>'{customer,phone}', ''))
        ON CONFLICT (ticket_id) DO NOTHING;
END $$;

-- Return unit p_serial from its open loan (by p_actor); publishes LoanerReturned. No-op when
-- the unit is not lent (a replay).
CREATE FUNCTION loaner_take_back(p_serial text, p_actor text, p_note text, p_req text)
    RETURNS loaners
LANGUAGE plpgsql AS $$
DECLARE
    u loaners;
    v_ticket text;
BEGIN
    UPDATE loans SET returned_at = now(), returned_by = p_actor,
                     note = concat_ws(' / ', note, p_note)
        WHERE serial = p_serial AND returned_at IS NULL
        RETURNING ticket_id INTO v_ticket;
    UPDATE loaners SET state = 'available', updated_at = now()
        WHERE serial = p_serial AND state = 'lent'
        RETURNING * INTO u;
    IF v_ticket IS NOT NULL THEN
        PERFORM emit('parts', 'parts.LoanerReturned', jsonb_build_object(
            'serial', p_serial, 'ticket_id', v_ticket, 'site', u.site), p_req);
    END IF;
    IF u.serial IS NULL THEN
        SELECT * INTO u FROM loaners WHERE serial = p_serial;
    END IF;
    RETURN u;
END $$;

CREATE FUNCTION on_intake_ticket_ended(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_unit text := nullif(e->>'loaner_unit', '');
BEGIN
    IF coalesce(e->>'ticket_id', '') = '' THEN
        RETURN;
    END IF;
    INSERT INTO intake_tickets(ticket_id, center, ended_at)
        VALUES (e->>'ticket_id', nullif(e->>'center', ''), now())
        ON CONFLICT (ticket_id) DO UPDATE SET ended_at = coalesce(intake_tickets.ended_at, now());
    -- The hand-back returned the loaner (intake checked it is the unit the ticket holds).
    IF v_unit IS NOT NULL AND EXISTS (SELECT 1 FROM loans WHERE serial = v_unit
                                      AND ticket_id = e->>'ticket_id' AND returned_at IS NULL) THEN
        PERFORM loaner_take_back(v_unit, 'intake', 'returned at hand-back', NULL);
        PERFORM audit_write(svc_principal(), NULL, 'take_back', 'loaner', v_unit,
                            jsonb_build_object('ticket_id', e->>'ticket_id', 'at', 'hand-back'));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION dispatch_intake_event(p_type text, e jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    CASE p_type
    WHEN 'intake.PartsRequested' THEN PERFORM on_parts_requested(e);
    WHEN 'intake.RepairCompleted' THEN PERFORM on_repair_completed(e);
    WHEN 'intake.TicketCancelled' THEN
        PERFORM on_ticket_cancelled(e);
        PERFORM on_intake_ticket_ended(e);
    WHEN 'intake.TicketOpened' THEN PERFORM on_intake_ticket_opened(e);
    WHEN 'intake.TicketClosed' THEN PERFORM on_intake_ticket_ended(e);
    ELSE RETURN false;
    END CASE;
    RETURN true;
END $$;

-- The loaner as p_principal may see it: the holder's phone in full for the unit's own desk,
-- admin and warehouse; masked for everyone else.
CREATE FUNCTION loaner_json_for(p_principal jsonb, u loaners) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    j jsonb := loaner_json(u);
BEGIN
    IF j ? 'phone' AND (p_principal->>'role' IN ('admin', 'warehouse')
                        OR (p_principal->>'role' = 'center' AND p_principal->>'site' = u.site)) THEN
        j := jsonb_set(j, '{phone}', to_jsonb((SELECT phone FROM loans WHERE serial = u.serial
                                                AND returned_at IS NULL)));
    END IF;
    RETURN j;
END $$;

CREATE OR REPLACE FUNCTION cmd_lend_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners := loaner_for_update(p_principal, a->>'serial');
    v_held text;
    it intake_tickets;
BEGIN
    IF u.state <> 'available' THEN
        PERFORM fail(409, 'illegal_transition', format('loaner %s is %s%s', u.serial, u.state,
            coalesce(' (ticket ' || (SELECT ticket_id FROM loans WHERE serial = u.serial
                                      AND returned_at IS NULL) || ')', '')));
    END IF;
    SELECT * INTO it FROM intake_tickets WHERE ticket_id = a->>'ticket_id';
    IF NOT FOUND THEN
        PERFORM fail(422, 'unknown_ticket',
                     format('ticket %s is not an open ticket known to the parts service', a->>'ticket_id'));
    END IF;
    IF it.ended_at IS NOT NULL THEN
        PERFORM fail(409, 'ticket_closed', format('ticket %s is closed: nothing to lend against', it.ticket_id));
    END IF;
    IF it.center IS DISTINCT FROM u.site THEN
        PERFORM fail(422, 'wrong_site', format('ticket %s belongs to %s, loaner %s to %s',
                                               it.ticket_id, coalesce(it.center, '?'), u.serial, u.site));
    END IF;
    SELECT serial INTO v_held FROM loans WHERE ticket_id = a->>'ticket_id' AND returned_at IS NULL;
    IF FOUND THEN
        PERFORM fail(409, 'ticket_has_loaner',
                     format('ticket %s already holds loaner %s', a->>'ticket_id', v_held));
    END IF;
    INSERT INTO loans(serial, ticket_id, customer, phone, lent_by, note)
        VALUES (u.serial, it.ticket_id, coalesce(nullif(a->>'customer', ''), it.customer_name),
                coalesce(nullif(a->>'phone', ''), it.customer_phone), actor(p_principal), a->>'note');
    UPDATE loaners SET state = 'lent', updated_at = now() WHERE serial = u.serial AND state = 'available'
        RETURNING * INTO u;
    PERFORM emit('parts', 'parts.LoanerLent', jsonb_build_object(
        'serial', u.serial, 'ticket_id', it.ticket_id, 'site', u.site), p_req);
    PERFORM audit_write(p_principal, p_req, 'lend', 'loaner', u.serial,
                        jsonb_build_object('ticket_id', a->>'ticket_id'));
    RETURN jsonb_build_object('status', 200, 'body', loaner_json_for(p_principal, u));
END $$;

CREATE OR REPLACE FUNCTION cmd_return_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners := loaner_for_update(p_principal, a->>'serial');
    v_ticket text;
BEGIN
    IF u.state <> 'lent' THEN
        PERFORM fail(409, 'illegal_transition', format('loaner %s is %s, not lent', u.serial, u.state));
    END IF;
    SELECT ticket_id INTO v_ticket FROM loans WHERE serial = u.serial AND returned_at IS NULL;
    u := loaner_take_back(u.serial, actor(p_principal), a->>'note', p_req);
    PERFORM audit_write(p_principal, p_req, 'take_back', 'loaner', u.serial,
                        jsonb_build_object('ticket_id', v_ticket));
    RETURN jsonb_build_object('status', 200, 'body', loaner_json_for(p_principal, u));
END $$;

CREATE OR REPLACE FUNCTION cmd_list_loaners(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_site text := a->>'site';
    v_rows jsonb;
BEGIN
    IF v_site IS NOT NULL THEN
        PERFORM require_site(p_principal, v_site, false);
    END IF;
    SELECT coalesce(jsonb_agg(loaner_json_for(p_principal, u) ORDER BY u.site, u.serial), '[]') INTO v_rows
    FROM loaners u
    WHERE may_read(p_principal, u.site)
      AND (v_site IS NULL OR u.site = v_site)
      AND (a->>'state' IS NULL OR u.state = a->>'state');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('loaners', v_rows));
END $$;
