-- An idempotency key answers for one request only. Each stored reply keeps a hash of the request
-- it answered (command, caller, arguments); a later request with the same id is answered from the
-- store only when its hash is the same. Otherwise it is refused with 422 idempotency_key_reused —
-- never given another request's reply (a key reused for a different body, or the same id sent by
-- a different caller). Rows stored before this migration have no hash and replay as before.
--
-- Two requests with one id that run at the same time: the second one's INSERT waits for the
-- first transaction; when that commits, the second is refused with 409 in_progress (its own
-- effects are rolled back), and a retry gets the stored answer.
ALTER TABLE commands ADD COLUMN request_hash text;

