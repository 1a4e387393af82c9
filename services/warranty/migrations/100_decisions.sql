-- warranty: decisions with their inputs, the devices' open tickets (for duplicate claims),
-- the holiday calendar, and the manual-review queue.

CREATE TABLE holidays (
    day  date PRIMARY KEY,
    name text NOT NULL DEFAULT ''
);

-- Open tickets per device, followed from intake's events: the same device open at two
-- centres at once is a possible duplicate claim.
CREATE TABLE device_tickets (
    ticket_id  text PRIMARY KEY,
    device_key text NOT NULL,
    center     text NOT NULL,
    open       boolean NOT NULL DEFAULT true
);
CREATE INDEX device_tickets_device ON device_tickets (device_key) WHERE open;

CREATE TABLE decisions (
    id             bigserial PRIMARY KEY,
    ticket_id      text NOT NULL UNIQUE,
    request        jsonb NOT NULL,
    decision       jsonb NOT NULL,
    policy_version text NOT NULL,
    review         boolean NOT NULL,
    review_reasons text[] NOT NULL DEFAULT '{}',
    decided_at     timestamptz NOT NULL DEFAULT now()
);

-- Record the engine's decision for a ticket (once) and publish it. Adds the reasons that need a
-- reviewer which only the database can see (the same device open at another centre).
CREATE FUNCTION record_decision(p_ticket text, p_device_key text, p_center text, p_request jsonb,
                                p_decision jsonb, p_policy text, p_reasons text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_reasons text[] := coalesce(p_reasons, '{}');
    v_id bigint;
BEGIN
    IF p_device_key IS NOT NULL AND p_device_key <> '' THEN
        INSERT INTO device_tickets(ticket_id, device_key, center) VALUES (p_ticket, p_device_key, p_center)
            ON CONFLICT DO NOTHING;
        IF EXISTS (SELECT 1 FROM device_tickets WHERE device_key = p_device_key AND open
                   AND ticket_id <> p_ticket AND center <> p_center) THEN
            v_reasons := v_reasons || 'duplicate_claim: the same device has an open ticket at another centre';
        END IF;
    END IF;
    INSERT INTO decisions(ticket_id, request, decision, policy_version, review, review_reasons)
        VALUES (p_ticket, p_request, p_decision, p_policy, cardinality(v_reasons) > 0, v_reasons)
        ON CONFLICT (ticket_id) DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN; -- decided before (an event delivered again): publish nothing new
    END IF;
    PERFORM emit('warranty', 'warranty.WarrantyDecided',
        (p_decision - 'id' - 'error') || jsonb_build_object(
            'ticket_id', p_ticket, 'decision_id', v_id::text, 'policy_version', p_policy,
            'review', cardinality(v_reasons) > 0));
END $$;
