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

