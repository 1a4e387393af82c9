-- warranty: its copy of the customers' tiers, from intake's stream (migration 420).

-- intake.CustomerLinked: a new ticket's customer and that customer's tier.
CREATE OR REPLACE FUNCTION on_customer_linked(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,
                                            account_owner = EXCLUDED.account_owner;
    INSERT INTO ticket_customers(ticket_id, customer_id) VALUES (e->>'ticket_id', e->>'customer_id')
    ON CONFLICT (ticket_id) DO NOTHING;
END $$;

-- intake.CustomerChanged: the tier follows (registered, updated; an erased customer keeps no
-- tier of note).
CREATE OR REPLACE FUNCTION on_customer_changed(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id',
            CASE WHEN e->>'change' = 'erased' THEN 'regular' ELSE coalesce(e->>'tier', 'regular') END,
            CASE WHEN e->>'change' = 'erased' THEN NULL ELSE e->>'account_owner' END)
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,
                                            account_owner = EXCLUDED.account_owner;
END $$;

-- A ticket's customer tier: regular when the ticket has no known customer.
CREATE OR REPLACE FUNCTION ticket_tier(p_ticket_id text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT ct.tier FROM ticket_customers tc
                     JOIN customer_tiers ct ON ct.customer_id = tc.customer_id
                     WHERE tc.ticket_id = p_ticket_id), 'regular');
END $$;

-- The review queue's order of a tier: VIP 0, key 1, the others 2 (intake's ticket_priority()).
CREATE OR REPLACE FUNCTION tier_rank(p_tier text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_tier WHEN 'vip' THEN 0 WHEN 'key' THEN 1 ELSE 2 END
$$;
