-- intake: promises the docs make, kept (issue 14).
--
-- 1. Part lines follow the parts ledger: parts.PartsIssued marks a line `issued`,
--    parts.PartsReleased marks it `released` (requested -> reserved | backordered -> issued |
--    released), whatever state the ticket is in by then (usually `ready` or `closed`).
-- 2. "Return unrepaired": a way out of every open state before the repair is done (received,
--    adjudicated, awaiting_review, estimate_pending, in_repair, awaiting_parts) -> `returned`.
--    It releases the part lines (TicketCancelled, as a cancellation does) and closes the ticket
--    (TicketClosed, outcome `declined`: nothing is charged, the callback is scheduled).
-- 3. Hand-back carries the customer's payment method into TicketClosed.

ALTER TABLE tickets DROP CONSTRAINT tickets_state_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_state_check CHECK (state IN ('received', 'adjudicated',
    'awaiting_review', 'estimate_pending', 'in_repair', 'awaiting_parts', 'ready', 'closed',
    'cancelled', 'declined', 'refunded', 'exchanged', 'returned'));

