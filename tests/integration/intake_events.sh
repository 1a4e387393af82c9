#!/usr/bin/env bash
# Intake's events reach real consumers: TicketOpened -> warranty decides; PartsRequested -> parts
# reserves or backorders the line; RepairCompleted -> settlement charges; TicketClosed -> surveys
# schedules the callback; TicketCancelled -> parts and warranty let go. And intake killed with
# SIGKILL in the middle of a ticket's life carries on where it stopped after a restart.
. "$(dirname "$0")/../lib.sh"

stack=deploy/local/stack.sh
# A 15-digit IMEI with a valid Luhn check digit, unique to this run.
imei() { with_luhn "$(printf '35%06d%06d' $((RANDOM * 7 % 1000000)) $(($1 % 1000000)))"; }
open_ticket() { # imei request
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$1" --arg req "$2" --arg inv "$(days_ago 60)" '{
      customer: {name: "Event Test", phone: "13400006666"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 259900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: $req}')"
}
state_is() { http GET "/v1/tickets/$1" "$AS_TOKEN_CENTER"; [ "$(jbody .state)" = "$2" ]; }
check() { # name seconds command...
    local name=$1 secs=$2
    shift 2
    if wait_until "$secs" "$@"; then t_ok "$name"; else t_fail "$name" "not within ${secs}s"; fi
}

# --- TicketOpened reaches warranty ---
open_ticket "$(imei 1)" repair
id=$(jbody .id)
first_id=$id
check "TicketOpened: warranty records a decision for the ticket" 10 \
    test "$(q warranty "SELECT count(*) FROM decisions WHERE ticket_id = '$id'")" = 1
check "WarrantyDecided: intake moves the ticket on" 10 state_is "$id" adjudicated

# --- PartsRequested reaches parts ---
http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER","labour_code":"L-BOARD"}'
t_jq "the covered repair starts" .state in_repair
t_eq "TicketDiagnosed is in intake's outbox" 1 \
    "$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.TicketDiagnosed' AND payload->>'ticket_id' = '$id'")"
sku=$(q parts "SELECT sku FROM skus ORDER BY sku LIMIT 1" 2>/dev/null)
if [ -n "$sku" ]; then
    http POST "/v1/tickets/$id/parts-requests" "$AS_TOKEN_CENTER" "{\"parts\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    t_status "parts are requested" 200
    reserved_or_backordered() {
        http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
        [[ "$(jbody '.work.requested[0].status')" =~ ^(reserved|backordered)$ ]]
    }
    check "PartsRequested: parts reserves or backorders the line, and intake hears it" 15 \
        reserved_or_backordered
else
    t_fail "PartsRequested: parts reserves or backorders the line" "the parts catalogue is empty"
fi

# --- restart intake mid-lifecycle (SIGKILL) ---
pid=$(cat "$AS_VAR/run/intake.pid")
kill -KILL "$pid"
sleep 0.3
setsid "$AS_BIN/as-intake" --config "$AS_CONFIG" >>"$AS_VAR/log/intake.log" 2>&1 </dev/null &
echo $! >"$AS_VAR/run/intake.pid"
disown $! 2>/dev/null || true
intake_up() { http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"; [ "$HTTP_STATUS" = 200 ]; }
check "intake answers again after SIGKILL and a restart" 30 intake_up
back_in_repair() { state_is "$id" in_repair || state_is "$id" awaiting_parts; }
check "the ticket kept its state across the restart" 5 back_in_repair
if state_is "$id" awaiting_parts; then
    # A backorder waits for a warehouse transfer; this test does not run one — cancel is not
    # allowed at this point, so finish the journey with a second ticket instead.
    open_ticket "$(imei 2)" repair
    id=$(jbody .id)
    wait_until 10 state_is "$id" adjudicated
    http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER"}'
fi
if [ -n "$sku" ] && state_is "$id" in_repair && [ "$(jbody '.work.requested[0].status')" = reserved ]; then
    http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_CENTER" \
        "{\"labour_minutes\":30,\"cause\":\"manufacturing_quality\",\"parts_used\":[{\"sku\":\"$sku\",\"qty\":1}]}"
    t_status "the repair completes after the restart, using the reserved part" 200
    t_jq "the used part is matched to its reserved line" '.work.parts_used[0].line_no' 1
else
    http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_CENTER" '{"labour_minutes":30,"cause":"manufacturing_quality"}'
    t_status "the repair completes after the restart" 200
fi
http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
t_status "the completed ticket reads back" 200
charged() {
    http GET "/v1/settlement/charges/$id" "$AS_TOKEN_FINANCE"
    [ "$HTTP_STATUS" = 200 ]
}
check "RepairCompleted: settlement charges the ticket" 15 charged
http POST "/v1/tickets/$id/handback" "$AS_TOKEN_CENTER" '{}'
t_jq "the ticket closes" .state closed
check "TicketClosed: surveys schedules one callback" 15 \
    test "$(q surveys "SELECT count(*) FROM callbacks WHERE ticket_id = '$id'")" = 1
http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
t_jq "the timeline survived the restart" '[.timeline[].event | select(. != "charged")] | .[0:3] | join(",")' \
    "opened,warranty_decided,diagnosed"

# --- TicketCancelled reaches warranty (the device is no longer open) ---
dev=$(imei 3)
open_ticket "$dev" repair
id=$(jbody .id)
wait_until 10 state_is "$id" adjudicated
http POST "/v1/tickets/$id/cancel" "$AS_TOKEN_CENTER" '{"reason":"customer left"}'
t_jq "the ticket is cancelled" .state cancelled
check "TicketCancelled: warranty no longer counts the device as open" 15 \
    test "$(q warranty "SELECT count(*) FROM device_tickets WHERE ticket_id = '$id' AND open")" = 0
# --- a PartsReserved delivered again adds no timeline row, whatever the ticket's state now ---
# (the fault suite's replay found one extra row per ticket: the first delivery's row was written
# by the state change with its own note). Played in SQL inside a rolled-back transaction, on this
# run's first ticket put back to awaiting_parts with one requested line: the first delivery moves
# it to in_repair, two more change nothing.
ev=$(jq -nc --arg t "$first_id" '{ticket_id: $t, site: "SH01", complete: true, lines: [{line_no: 1, sku: "X", qty: 1}]}')
out=$("$stack" psql intake -XAtq -c "BEGIN;
    UPDATE tickets SET state = 'awaiting_parts',
        work = jsonb_set(work, '{requested}', '[{\"line_no\": 1, \"sku\": \"X\", \"qty\": 1, \"status\": \"requested\"}]')
        WHERE id = '$first_id';
    SELECT on_parts_reserved('$ev'::jsonb);
    SELECT 'after-first ' || state || ' ' || (SELECT count(*) FROM ticket_timeline WHERE ticket_id = '$first_id') FROM tickets WHERE id = '$first_id';
    SELECT on_parts_reserved('$ev'::jsonb);
    SELECT on_parts_reserved('$ev'::jsonb);
    SELECT 'after-more ' || state || ' ' || (SELECT count(*) FROM ticket_timeline WHERE ticket_id = '$first_id') FROM tickets WHERE id = '$first_id';
    ROLLBACK;" 2>&1)
first=$(sed -n 's/^after-first //p' <<<"$out")
more=$(sed -n 's/^after-more //p' <<<"$out")
t_eq "the first PartsReserved (complete) moves the ticket to in_repair" in_repair "${first%% *}"
t_eq "PartsReserved delivered twice more adds no timeline row" "${first:-?}" "${more:-none ($out)}"

t_done
