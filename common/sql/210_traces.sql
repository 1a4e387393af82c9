-- Traces into the outbox (issue 20.2). Every event row records the trace of the request (or of
-- the event) that caused it, so the relay publishes it in the envelope and a consumer's log
-- line carries it. The trace travels in the transaction-local setting as.trace_id: exec_batch
-- sets it from each command's "t" before running that command, a consumer sets it from the
-- event it applies; the outbox column takes it by default (NULL when unset), so emit() and the
-- command functions stay as they are.
ALTER TABLE outbox ALTER COLUMN trace_id SET DEFAULT nullif(current_setting('as.trace_id', true), '');

