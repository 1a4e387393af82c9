-- intake: each new ticket announces its customer's tier (intake.CustomerLinked: ticket,
-- customer id, tier, account owner — no name or phone), so that surveys can treat complaints
-- about key and VIP customers' tickets one severity higher (issue 19, point 8). Later tier
-- changes travel as intake.CustomerChanged (193).

CREATE FUNCTION tickets_announce_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c customers;
BEGIN
    SELECT * INTO c FROM customers WHERE id = NEW.customer_id;
    IF FOUND THEN
        PERFORM emit('intake', 'intake.CustomerLinked', jsonb_strip_nulls(jsonb_build_object(
            'ticket_id', NEW.id, 'customer_id', c.id, 'tier', c.tier,
            'account_owner', c.account_owner, 'center', NEW.center)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tickets_announce_customer AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_announce_customer();
