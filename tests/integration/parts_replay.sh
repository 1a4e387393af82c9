#!/usr/bin/env bash
# Parts: replayed events change nothing. A stream position cannot be reset, so the proof calls
# the SQL handlers (and the consumer's entry point) twice with the same payload and compares a
# fingerprint of everything the service keeps about the test's tickets and SKU: stock, ledger,
# ticket lines, transfers, defective returns, published events, audit rows. Duplicates with new
# lines reserve only the new lines; the framework refuses to apply a sequence twice; a command
# retried with the same Idempotency-Key is applied once.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
SKU="T$RUN-REPLAY"
TA="RP$RUN"A
TB="RP$RUN"B

# fingerprint — everything about $SKU, $TA and $TB, hashed.
fingerprint() {
    q "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
         SELECT 'stock ' || site || ' ' || on_hand || ' ' || reserved || ' ' || defective || ' ' || coalesce(last_movement_id, 0) AS x
             FROM stock WHERE sku = '$SKU'
         UNION ALL SELECT 'movement ' || id || ' ' || kind || ' ' || qty FROM movements WHERE sku = '$SKU'
         UNION ALL SELECT 'line ' || ticket_id || ' ' || line_no || ' ' || state || ' ' || coalesce(issued_qty, -1)
             FROM reservations WHERE ticket_id IN ('$TA', '$TB')
         UNION ALL SELECT 'ticket ' || ticket_id || ' ' || state FROM tickets WHERE ticket_id IN ('$TA', '$TB')
         UNION ALL SELECT 'transfer ' || id || ' ' || state FROM transfers WHERE ticket_id IN ('$TA', '$TB')
         UNION ALL SELECT 'return ' || id || ' ' || status FROM defective_returns WHERE ticket_id IN ('$TA', '$TB')
         UNION ALL SELECT 'event ' || seq || ' ' || type FROM outbox
             WHERE payload->>'ticket_id' IN ('$TA', '$TB') OR payload->>'sku' = '$SKU'
         UNION ALL SELECT 'audit ' || id FROM audit WHERE entity_id IN ('$TA', '$TB')) s"
}
# twice NAME SQL — run SQL once, fingerprint, run it again: nothing may change.
twice() {
    q "$2" >/dev/null
    local before after
    before=$(fingerprint)
    q "$2" >/dev/null
    after=$(fingerprint)
    t_eq "$1" "$before" "$after"
}

http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"replay test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":1000,\"list_price_cents\":2000,\"defective_return_required\":true}"
t_status "a test SKU is added" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":2}"
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":5}"

REQ_A="{\"ticket_id\":\"$TA\",\"center\":\"SH01\",\"region\":\"east\",\"manufacturer\":\"HUAXIN\",\"warranty\":true,\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1},{\"line_no\":2,\"sku\":\"$SKU\",\"qty\":3}]}"
twice "a PartsRequested replayed reserves nothing twice" "SELECT on_parts_requested('$REQ_A')"
t_eq "the first delivery reserved line 1 and backordered line 2" "1:reserved,2:backordered" \
    "$(q "SELECT string_agg(line_no || ':' || state, ',' ORDER BY line_no) FROM reservations WHERE ticket_id = '$TA'")"
t_eq "one transfer was requested for the backordered line, once" 1 \
    "$(q "SELECT count(*) FROM transfers WHERE ticket_id = '$TA'")"
t_eq "the centre's stock was reserved once" "2|1" \
    "$(q "SELECT on_hand, reserved FROM stock WHERE site = 'SH01' AND sku = '$SKU'")"

before=$(fingerprint)
q "SELECT apply_intake_event('intake.PartsRequested', '$REQ_A', 999999999)" >/dev/null
t_eq "the consumer's entry point, given the same event again, changes nothing" "$before" "$(fingerprint)"

REQ_A2="{\"ticket_id\":\"$TA\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":2,\"sku\":\"$SKU\",\"qty\":3},{\"line_no\":3,\"sku\":\"$SKU\",\"qty\":1}]}"
q "SELECT on_parts_requested('$REQ_A2')" >/dev/null
t_eq "a duplicate that adds a line adds only the new line (waiting behind line 2: first come, first served)" \
    "1:reserved,2:backordered,3:backordered" \
    "$(q "SELECT string_agg(line_no || ':' || state, ',' ORDER BY line_no) FROM reservations WHERE ticket_id = '$TA'")"

DONE_A="{\"ticket_id\":\"$TA\",\"center\":\"SH01\",\"region\":\"east\",\"manufacturer\":\"HUAXIN\",\"payer\":\"manufacturer\",\"completed_at\":\"2026-01-10T08:00:00.000Z\",\"parts_used\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}"
twice "a RepairCompleted replayed issues nothing twice" "SELECT on_repair_completed('$DONE_A')"
t_eq "the used line was issued, the lines that never came were cancelled" "1:issued,2:cancelled,3:cancelled" \
    "$(q "SELECT string_agg(line_no || ':' || state, ',' ORDER BY line_no) FROM reservations WHERE ticket_id = '$TA'")"
t_eq "one defective return is owed for the warranty part, once" 1 \
    "$(q "SELECT count(*) FROM defective_returns WHERE ticket_id = '$TA'")"
t_eq "the centre issued one unit and holds the other free" "1|0" \
    "$(q "SELECT on_hand, reserved FROM stock WHERE site = 'SH01' AND sku = '$SKU'")"
twice "a PartsRequested arriving after the repair reserves nothing" "SELECT on_parts_requested('$REQ_A2')"

REQ_B="{\"ticket_id\":\"$TB\",\"center\":\"SH01\",\"region\":\"east\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}"
q "SELECT on_parts_requested('$REQ_B')" >/dev/null
CANCEL_B="{\"ticket_id\":\"$TB\",\"center\":\"SH01\",\"region\":\"east\",\"reason\":\"customer left\",\"lines\":[{\"line_no\":1,\"sku\":\"$SKU\",\"qty\":1}]}"
twice "a TicketCancelled replayed releases nothing twice" "SELECT on_ticket_cancelled('$CANCEL_B')"
t_eq "the cancelled ticket's reservation was released once" "1|0" \
    "$(q "SELECT on_hand, reserved FROM stock WHERE site = 'SH01' AND sku = '$SKU'")"
t_eq "the ledger holds after all the replays" t "$(q "SELECT ledger_ok()")"

# The framework itself: a stream position only moves to the next sequence.
out=$(q "SELECT consumer_advance('intake', (SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'))")
t_match "the consumer refuses to apply a sequence it has applied" "out_of_order" "$out"

# Commands: the same Idempotency-Key is the same request.
key="replay-$RUN"
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":7}" -H "Idempotency-Key: $key"
t_status "a receipt is posted with an idempotency key" 201
first=$(jbody .first_movement_id)
out=$(curl -sS -i -X POST -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H "Idempotency-Key: $key" \
    -H 'Content-Type: application/json' --data-binary "{\"site\":\"WH01\",\"sku\":\"$SKU\",\"qty\":7}" \
    "$AS_GATEWAY_URL/v1/parts/receipts")
t_match "the retry is answered from the stored reply" "Idempotent-Replayed: true" "$out"
t_match "the retry names the same movement" "\"first_movement_id\":$first" "$out"
t_eq "the retried receipt was applied once" 1 \
    "$(q "SELECT count(*) FROM movements WHERE sku = '$SKU' AND site = 'WH01' AND qty = 7")"
t_done
