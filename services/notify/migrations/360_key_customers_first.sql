-- notify: key and VIP customers first (issue 19.8), and the status page's address in the
-- customer's notifications (issue 19.4).
--
-- The tier of each ticket's customer, from intake.CustomerLinked (a new ticket) and
-- intake.CustomerChanged (a customer's tier changed later): kept apart from `tickets`, whose
-- row means "TicketOpened has arrived" to the customer notifications.
CREATE TABLE ticket_tiers (
    ticket_id   text PRIMARY KEY,
    customer_id text,
    tier        text NOT NULL DEFAULT 'regular'
);
CREATE INDEX ticket_tiers_customer ON ticket_tiers(customer_id);

-- 1 for a key or VIP customer's notification: the sender takes those first.
ALTER TABLE notifications ADD COLUMN priority int NOT NULL DEFAULT 0;
CREATE INDEX notifications_due_priority ON notifications(priority DESC, next_at, id)
    WHERE state = 'pending';

-- Text settings written by the service at start (as `settings` holds the numeric ones).
CREATE TABLE text_settings (
    name  text PRIMARY KEY,
    value text NOT NULL DEFAULT ''
);
INSERT INTO text_settings(name, value) VALUES ('status_page_url', '') ON CONFLICT (name) DO NOTHING;
