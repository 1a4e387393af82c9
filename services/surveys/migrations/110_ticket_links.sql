-- surveys: a complaint opened for a ticket carries that ticket's customer (issue 14, point 8),
-- the ticket learns its complaints (surveys.ComplaintOpened, point 5), and the due list can be
-- asked for one ticket's callback (ListDue.ticket_id).
--
-- Surveys now follows intake.TicketOpened, which carries the customer: ticket_customers keeps
-- (ticket, centre, name, phone) for every ticket opened since. cmd_open_complaint() takes the
-- ticket's customer (and, when no centre is given or implied, its centre) from there, else from
-- the ticket's callback; a name or phone typed in the request still wins.

CREATE TABLE ticket_customers (
    ticket_id      text PRIMARY KEY,
    center         text,
    region         text,
    customer_name  text,
    customer_phone text,
    opened_at      timestamptz NOT NULL DEFAULT now()
);

-- List replies are not stored (nostore): nothing to forget for the changed cmd_list_due.
