-- Request ids are scoped to the CURVE key that sent them: the command server stores
-- "<request id>@<key name>" (common/src/server.c), so the same id from two keys is two requests
-- and no key receives another's stored reply. The envelope's id stays 1..127 bytes; with the
-- suffix (at most 1 + 31 bytes) the stored key is at most 159.
ALTER TABLE commands DROP CONSTRAINT IF EXISTS commands_request_id_check;
ALTER TABLE commands ADD CONSTRAINT commands_request_id_check
    CHECK (length(request_id) BETWEEN 1 AND 159);
