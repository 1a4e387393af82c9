#!/usr/bin/env bash
# intake: warranty decisions applied in batches (decision 36). With warranty stopped a desk
# opens tickets; warranty starts, catches up on intake's stream and publishes the decisions in
# a burst, which intake's consumer collects into on_warranty_decisions() calls (one per batch
# of what arrived together). Each ticket moves on exactly as one by one: adjudicated (or
# awaiting review), one warranty_decided timeline row each, the decision stored, every decision
# applied once and the position at warranty's head.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../helpers.sh"

N=12
open_ticket() {
    local imei body
    imei=$(new_imei)
    body=$(jq -nc --arg inv "$(days_ago 40)" --arg imei "$imei" '{
      customer: {name: "Batch Test", phone: "13900000000"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", description: "will not power on", listed: true},
      request: "repair"}')
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$body"
    TICKET=$(jbody .id)
}
stop() {
    local pid
    pid=$(cat "$AS_VAR/run/$1.pid")
    kill -TERM "$pid"
    wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}
# decided N — warranty published N decisions for the tickets (re-read on every call)
decided() {
    [ "$(q warranty "SELECT count(*) FROM outbox WHERE stream = 'warranty' AND seq > $W0
                       AND type = 'warranty.WarrantyDecided' AND payload->>'ticket_id' IN ($IN)")" -ge "$1" ]
}
# moved N — N of the tickets left `received`
moved() { [ "$(q intake "SELECT count(*) FROM tickets WHERE id IN ($IN) AND state <> 'received'")" -ge "$1" ]; }
# at SEQ — intake's position in warranty's stream reached SEQ
at() { [ "$(q intake "SELECT last_seq FROM consumer_offsets WHERE stream = 'warranty'")" -ge "$1" ]; }

t_check "warranty stops" stop warranty
W0=$(q warranty "SELECT coalesce(max(last_seq), 0) FROM outbox_streams WHERE stream = 'warranty'")
TICKETS=()
for i in $(seq 1 $N); do
    open_ticket
    TICKETS+=("$TICKET")
done
t_eq "$N tickets opened while warranty is down" $N "$(printf '%s\n' "${TICKETS[@]}" | grep -c '^T')"
IN=$(printf "'%s'," "${TICKETS[@]}")
IN=${IN%,}
t_eq "... all received" $N "$(q intake "SELECT count(*) FROM tickets WHERE id IN ($IN) AND state = 'received'")"
t_check "warranty starts again" svc_restart warranty
t_check "warranty decides them all" wait_until 30 decided $N
t_check "intake applies the decisions" wait_until 30 moved $N
W1=$(q warranty "SELECT last_seq FROM outbox_streams WHERE stream = 'warranty'")
t_check "intake's position reaches warranty's head" wait_until 30 at "$W1"
t_eq "every ticket moved on from received" 0 \
    "$(q intake "SELECT count(*) FROM tickets WHERE id IN ($IN) AND state = 'received'")"
t_eq "... to adjudicated or awaiting review, with the decision stored" $N \
    "$(q intake "SELECT count(*) FROM tickets WHERE id IN ($IN)
                  AND state IN ('adjudicated', 'awaiting_review') AND decision ? 'remedy'")"
t_eq "one warranty_decided timeline row per ticket" "$N/$N" "$(q intake "
    SELECT count(*) || '/' || count(DISTINCT ticket_id) FROM ticket_timeline
     WHERE ticket_id IN ($IN) AND event = 'warranty_decided'")"
t_eq "the timeline row names the decision" 0 "$(q intake "
    SELECT count(*) FROM ticket_timeline l JOIN tickets t ON t.id = l.ticket_id
     WHERE l.ticket_id IN ($IN) AND l.event = 'warranty_decided'
       AND l.note NOT LIKE (t.decision->>'status') || ': %'")"
t_eq "each decision was applied once (the consumer's proof rows)" "$((W1 - W0))" "$(q intake "
    SELECT count(*) FROM consumer_applied WHERE stream = 'warranty' AND seq > $W0 AND seq <= $W1")"

t_done
