-- intake: the ticket names its satisfaction callback and its complaints (issue 14, point 5), and
-- TicketOpened carries the customer so that surveys can give a complaint opened for a ticket
-- that ticket's customer without retyping (point 8).
--
-- Intake follows surveys' stream: surveys.CallbackScheduled sets tickets.callback_id,
-- surveys.ComplaintOpened adds to tickets.complaints. ticket_json() shows both;
-- cmd_open_ticket() adds `customer` to TicketOpened (otherwise unchanged from 104).

ALTER TABLE tickets ADD COLUMN callback_id text,
                    ADD COLUMN complaints text[] NOT NULL DEFAULT '{}';

