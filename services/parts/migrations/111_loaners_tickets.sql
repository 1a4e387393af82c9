-- parts: loaners belong to real tickets (issue 14, point 7).
--
-- Parts learns which tickets are open from intake's stream: intake.TicketOpened adds a row to
-- intake_tickets (centre, customer); TicketClosed and TicketCancelled mark it ended. Lending
-- then needs an open ticket of the loaner's site: unknown ticket 422, ended ticket 409, another
-- site's ticket 422. Each loan and each return is published (parts.LoanerLent,
-- parts.LoanerReturned) so that intake knows who holds a unit: it refuses to hand a ticket back
-- while its customer holds one, unless the hand-back returns it (TicketClosed.loaner_unit, which
-- parts applies here as the unit's return). The holder's phone is shown in full to the desk of
-- the unit's own site (and admin, warehouse); other roles see it masked.

CREATE TABLE intake_tickets (
    ticket_id      text PRIMARY KEY,
    center         text,
    customer_name  text,
    customer_phone text,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    ended_at       timestamptz
);

