-- schemas: surveys warranty
-- common: the customer tier of a ticket, read from a service's copy of intake's customers
-- (customer_tiers by customer, ticket_tiers tying each ticket to its customer; both kept from
-- intake.CustomerLinked / CustomerChanged). A ticket with no link is 'regular'.
CREATE OR REPLACE FUNCTION ticket_tier(p_ticket text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT ct.tier FROM ticket_tiers tt
                     JOIN customer_tiers ct ON ct.customer_id = tt.customer_id
                     WHERE tt.ticket_id = p_ticket), 'regular')
$$;
