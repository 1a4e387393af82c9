-- parts: loaners functions. One current definition per function, applied with CREATE OR
-- REPLACE after the numbered migrations on every start (the runner skips an unchanged file).
-- Change a function here, in place; a new migration holds only tables, data changes and drops.
-- (scripts/sql-fold.py moves definitions found in migrations into these files.)

CREATE OR REPLACE FUNCTION loaner_json(u loaners) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
        'serial', u.serial, 'site', u.site, 'sku', u.sku, 'model', u.model, 'state', u.state,
        'ticket_id', l.ticket_id, 'customer', l.customer, 'phone', mask_phone(l.phone),
        'lent_at', ts(l.lent_at), 'lent_by', l.lent_by,
        'days_out', CASE WHEN l.id IS NOT NULL
                         THEN business_today() - (l.lent_at AT TIME ZONE 'Asia/Shanghai')::date END))
    FROM (SELECT 1) one
    LEFT JOIN loans l ON l.serial = u.serial AND l.returned_at IS NULL);
END $$;

CREATE OR REPLACE FUNCTION loaner_for_update(p_principal jsonb, p_serial text) RETURNS loaners
LANGUAGE plpgsql AS $$
DECLARE
    u loaners;
BEGIN
    SELECT * INTO u FROM loaners WHERE serial = p_serial FOR UPDATE;
    IF NOT FOUND OR NOT may_read(p_principal, u.site) THEN
        PERFORM fail(404, 'not_found', format('loaner %s not found', p_serial));
    END IF;
    IF NOT may_write(p_principal, u.site) THEN
        PERFORM fail(403, 'forbidden', format('you may not lend or take back units of %s', u.site));
    END IF;
    RETURN u;
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
    SELECT coalesce(jsonb_agg(loaner_view(u, p_principal) ORDER BY u.site, u.serial), '[]')
      INTO v_rows
    FROM loaners u
    WHERE may_read(p_principal, u.site)
      AND (v_site IS NULL OR u.site = v_site)
      AND (a->>'state' IS NULL OR u.state = a->>'state');
    RETURN jsonb_build_object('status', 200, 'nostore', true, 'body', jsonb_build_object('loaners', v_rows));
END $$;

CREATE OR REPLACE FUNCTION cmd_register_loaner(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    u loaners;
BEGIN
    IF p_principal->>'role' NOT IN ('admin', 'warehouse') THEN
        PERFORM fail(403, 'forbidden', 'only the warehouse registers loaner units');
    END IF;
    PERFORM require_site(p_principal, a->>'site', true);
    IF a->>'sku' IS NOT NULL THEN
        PERFORM require_sku(a->>'sku');
    END IF;
    INSERT INTO loaners(serial, site, sku, model)
        VALUES (a->>'serial', a->>'site', a->>'sku', a->>'model')
        ON CONFLICT (serial) DO NOTHING
        RETURNING * INTO u;
    IF NOT FOUND THEN
        PERFORM fail(409, 'exists', format('loaner %s is registered already', a->>'serial'));
    END IF;
    PERFORM audit_write(p_principal, p_req, 'register', 'loaner', u.serial,
                        jsonb_build_object('site', u.site, 'model', u.model));
    RETURN jsonb_build_object('status', 201, 'body', loaner_json(u));
END $$;

-- Return unit p_serial from its open loan (by p_actor); publishes LoanerReturned. No-op when
-- the unit is not lent (a replay).
CREATE OR REPLACE FUNCTION loaner_take_back(p_serial text, p_actor text, p_note text, p_req text)
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

CREATE OR REPLACE FUNCTION loaner_json_for(p_principal jsonb, u loaners) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    j jsonb := loaner_json(u);
    v_role text := p_principal->>'role';
BEGIN
    IF v_role = 'admin' OR (v_role = 'center' AND p_principal->>'site' = u.site) THEN
        IF j ? 'phone' THEN
            j := jsonb_set(j, '{phone}', to_jsonb((SELECT phone FROM loans WHERE serial = u.serial
                                                    AND returned_at IS NULL)));
        END IF;
        RETURN j;
    END IF;
    IF v_role IN ('center', 'service') THEN
        RETURN j;
    END IF;
    RETURN j - 'customer' - 'phone';
END $$;

CREATE OR REPLACE FUNCTION loaner_view(u loaners, p jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT loaner_json_for(p, u)
$$;
