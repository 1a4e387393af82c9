-- intake: loaners belong to real tickets (issue 14, point 7), intake's side.
--
-- Parts publishes parts.LoanerLent / parts.LoanerReturned; intake keeps tickets.loaner_unit (the
-- unit the ticket's customer holds) and shows it on the ticket. Hand-back and return unrepaired
-- are refused (409 loaner_out, naming the unit) while the customer holds a unit, unless the
-- request returns it (`loaner_unit`); then TicketClosed carries `loaner_unit` and parts takes the
-- unit back. A `loaner_unit` the ticket does not hold is 422.

ALTER TABLE tickets ADD COLUMN loaner_unit text;

