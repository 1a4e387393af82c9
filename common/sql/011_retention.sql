-- Nothing grows without bound: stored command replies and outbox rows are pruned on a timer
-- inside each service (service.c calls prune_runtime() every prune_interval_ms, in batches of
-- prune_batch rows). See docs/operations.md ("Retention") and
-- docs/decisions/0012-retention-and-consumer-positions.md.

-- Pruning command replies by age needs an index on the age.
CREATE INDEX IF NOT EXISTS commands_created_at ON commands (created_at);

-- Where each consumer of this service's stream says it is: the last sequence it has applied.
-- Learned from the consumer's replay requests (a consumer asks "from sequence N" when it starts,
-- when it sees a gap and after a second of silence; N - 1 is what it has applied). A consumer is
-- registered by its first report; its position only moves forward.
CREATE TABLE IF NOT EXISTS outbox_consumers (
    stream      text NOT NULL,
    consumer    text NOT NULL,
    applied_seq bigint NOT NULL CHECK (applied_seq >= 0),
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, consumer)
);

