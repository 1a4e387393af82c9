-- intake 440: indexes for the console's lists at 100,000 tickets and more (issue 18; measured by
-- `make bench-console`, docs/benchmark.md). cmd_list_tickets (sql/tickets.sql) reads a page in
-- (opened_at DESC, id DESC) order within the caller's scope or a state and stops at the page's
-- end; the searches by IMEI and serial number read the ticket's device JSON.
CREATE INDEX IF NOT EXISTS tickets_opened ON tickets (opened_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tickets_region_opened ON tickets (region, opened_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tickets_state_opened ON tickets (state, opened_at DESC, id DESC);
DROP INDEX IF EXISTS tickets_state;   -- the index above answers every state lookup it did
CREATE INDEX IF NOT EXISTS tickets_imei ON tickets ((device->>'imei'));
CREATE INDEX IF NOT EXISTS tickets_serial ON tickets ((device->>'serial'));
-- the queue's key and VIP customers (few) found without reading every customer
CREATE INDEX IF NOT EXISTS customers_tiered ON customers (id) WHERE tier IN ('vip', 'key');
-- customers by the beginning of a phone number (cmd_list_customers: a byte-wise range)
CREATE INDEX IF NOT EXISTS customer_phones_prefix ON customer_phones (phone text_pattern_ops);
-- running promises (GET /v1/promises, the promise report): the few tickets whose clock runs
CREATE INDEX IF NOT EXISTS tickets_promise_running ON tickets (center, promised_at)
    WHERE promise_met_at IS NULL AND promised_at IS NOT NULL;
-- promises that ended in a period (the promise report's kept and missed)
CREATE INDEX IF NOT EXISTS tickets_promise_met ON tickets (center, promise_met_at)
    WHERE promise_met_at IS NOT NULL;
-- repairs returned in a period (the scorecard)
CREATE INDEX IF NOT EXISTS device_repairs_returned ON device_repairs (returned);
-- the scorecard's parts fill rate: the tickets whose parts were backordered (few)
CREATE INDEX IF NOT EXISTS ticket_timeline_backordered ON ticket_timeline (ticket_id)
    WHERE event = 'parts_backordered';
