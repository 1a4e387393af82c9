-- intake: promised deadlines (issue 19.2). Every ticket is promised "ready by" a date computed
-- from its centre's service level for the device category; time spent waiting for the customer
-- (estimate_pending: the customer has not yet consented) pauses the clock; the promise is met
-- when the device is ready for pickup (or the ticket ends another way: refund, exchange, cancel,
-- return) — waiting for the customer to collect it is not the workshop's time. A promise missed
-- escalates desk -> centre_manager -> region on a timer that lives in the database
-- (tickets.promise_next_check_at), the same pattern as the complaint deadlines in surveys.
-- Everything is maintained by one trigger on tickets, so every path that opens or moves a
-- ticket is covered without touching the command functions.

-- The service's settings, written by the service at every start (as surveys does).
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO settings(name, value) VALUES
    ('test_mode', 0), ('clock_offset_s', 0), ('promise_default_h', 72),
    ('promise_at_risk_pct', 25), ('promise_region_after_h', 24);

-- Service levels: hours from opening to "ready", per centre and category. '*' is a wildcard:
-- (centre, category) wins over (centre, '*'), then ('*', category), then the setting
-- promise_default_h. Changing a level applies to tickets opened afterwards.
CREATE TABLE service_levels (
    center     text NOT NULL,
    category   text NOT NULL,
    hours      int NOT NULL CHECK (hours BETWEEN 1 AND 8760),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    PRIMARY KEY (center, category)
);

ALTER TABLE tickets
    ADD COLUMN promise_h int,
    ADD COLUMN promised_at timestamptz,          -- ready by; moved later by every pause
    ADD COLUMN paused_since timestamptz,         -- the clock is paused (waiting for the customer)
    ADD COLUMN promise_met_at timestamptz,       -- the clock stopped (ready, or the ticket ended)
    ADD COLUMN promise_level text NOT NULL DEFAULT 'desk'
        CHECK (promise_level IN ('desk', 'centre_manager', 'region')),
    ADD COLUMN promise_next_check_at timestamptz;
CREATE INDEX tickets_promise_check ON tickets (promise_next_check_at)
    WHERE promise_next_check_at IS NOT NULL;

