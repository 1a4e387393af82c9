-- warranty: its copy of the customers' tiers, from intake's stream (migration 420).

-- intake.CustomerLinked: a new ticket's customer and that customer's tier.
CREATE OR REPLACE FUNCTION on_customer_linked(e jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_tiers(customer_id, tier, account_owner)
    VALUES (e->>'customer_id', coalesce(e->>'tier', 'regular'), e->>'account_owner')
    ON CONFLICT (customer_id) DO UPDATE SET tier = EXCLUDED.tier,
                                            account_owner = EXCLUDED.account_owner;
    INSERT INTO ticket_tiers(ticket_id, customer_id) VALUES (e->>'ticket_id', e->>'customer_id')
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

-- (ticket_tier(): common/sql/families/customer_tiers.sql)
