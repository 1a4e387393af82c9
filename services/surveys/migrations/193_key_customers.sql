-- surveys: key and VIP customers' complaints start one severity higher (issue 19, point 8;
-- docs/surveys.md). The tier comes from intake's events: CustomerLinked (a ticket and its
-- customer's tier) and CustomerChanged (a customer's tier changed). A complaint about a ticket
-- of a key / VIP customer is raised one step (general → serious → critical); its deadlines and
-- starting level follow the raised severity. complaint_create() is otherwise as in 110.

CREATE TABLE customer_tiers (
    customer_id   text PRIMARY KEY,
    tier          text NOT NULL,
    account_owner text
);
CREATE TABLE ticket_tiers (
    ticket_id   text PRIMARY KEY,
    customer_id text NOT NULL
);

CREATE FUNCTION on_customer_linked(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO NOTHING;
    INSERT INTO ticket_tiers(ticket_id, customer_id) VALUES (e->>'ticket_id', e->>'customer_id')
    ON CONFLICT (ticket_id) DO NOTHING;
$$;

CREATE FUNCTION on_customer_changed(e jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,
                                            account_owner = EXCLUDED.account_owner;
$$;

-- The tier of a ticket's customer ('regular' when unknown).
CREATE FUNCTION ticket_tier(p_ticket text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT ct.tier FROM ticket_tiers tt
                     JOIN customer_tiers ct ON ct.customer_id = tt.customer_id
                     WHERE tt.ticket_id = p_ticket), 'regular')
$$;

CREATE FUNCTION severity_for_tier(p_sev text, p_tier text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_tier IN ('key', 'vip')
                THEN CASE p_sev WHEN 'general' THEN 'serious' ELSE 'critical' END
                ELSE p_sev END
$$;

CREATE OR REPLACE FUNCTION complaint_create(p_req text, p_principal jsonb, p_channel text, p_ticket text,
                                 p_center text, p_region text, p_cause text, p_description text,
                                 p_customer_name text, p_customer_phone text, p_source text,
                                 p_response text) RETURNS complaints
LANGUAGE plpgsql AS $$
DECLARE
    c complaints;
    v_tier text := CASE WHEN p_ticket IS NOT NULL THEN ticket_tier(p_ticket) ELSE 'regular' END;
    v_sev text := severity_for_tier(severity_of_channel(p_channel), v_tier);
BEGIN
    INSERT INTO complaints(id, ticket_id, center, region, channel, cause, description,
                           customer_name, customer_phone, severity, state, level, owner, source,
                           response_id, created_at, updated_at)
    VALUES ('C' || lpad(nextval('complaint_no')::text, 8, '0'), p_ticket, p_center, p_region,
            p_channel, p_cause, p_description, p_customer_name, p_customer_phone, v_sev, 'open',
            initial_level(v_sev), actor(p_principal), p_source, p_response, svc_now(), svc_now())
    RETURNING * INTO c;
    PERFORM deadline_set(c.id, 'acknowledge', window_h(v_sev, 'acknowledge'));
    PERFORM deadline_set(c.id, 'resolve', window_h(v_sev, 'resolve'));
    IF v_sev = 'serious' THEN
        PERFORM deadline_set(c.id, 'report', window_h(v_sev, 'report'));
    END IF;
    PERFORM history_add(c.id, 'opened', NULL, 'open', NULL, c.level, v_sev, actor(p_principal),
                        format('channel %s, cause %s, owner %s', p_channel, p_cause, c.owner)
                        || CASE WHEN v_tier IN ('key', 'vip')
                                THEN format('; %s customer: severity one step up', v_tier) ELSE '' END,
                        p_req);
    PERFORM audit_write(p_principal, p_req, 'open', 'complaint', c.id,
                        jsonb_build_object('channel', p_channel, 'severity', v_sev, 'source', p_source,
                                           'tier', v_tier));
    IF c.ticket_id IS NOT NULL THEN
        PERFORM emit('surveys', 'surveys.ComplaintOpened', jsonb_build_object(
            'complaint_id', c.id, 'ticket_id', c.ticket_id, 'center', c.center,
            'region', c.region));
    END IF;
    RETURN c;
END $$;
