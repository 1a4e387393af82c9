-- warranty: the customer's tier in the review queue (issue 17, point 4; docs/warranty.md). The
-- tier comes from intake's stream like surveys' copy (193 there): CustomerLinked ties a new ticket
-- to its customer and says the tier, CustomerChanged carries a later change of tier. The queue
-- shows each review's tier and lists VIP, then key accounts, then the others. Tickets decided
-- before this migration have no link and show as regular (no backfill).

CREATE TABLE customer_tiers (
    customer_id   text PRIMARY KEY,
    tier          text NOT NULL DEFAULT 'regular', -- regular | key | vip, as intake says
    account_owner text
);
CREATE TABLE ticket_customers (
    ticket_id   text PRIMARY KEY,
    customer_id text NOT NULL
);
