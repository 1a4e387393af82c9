#!/usr/bin/env bash
# Events are durable: an event emitted while its consumer is down is applied exactly once after
# the consumer starts; a consumer killed with SIGKILL in the middle of a stream of 1,000 events
# applies every event exactly once, with no gap, after it restarts.
. "$(dirname "$0")/../lib.sh"

stack=deploy/local/stack.sh
pidfile() { printf '%s/run/%s.pid' "$AS_VAR" "$1"; }
start_service() {
    setsid "$AS_BIN/as-$1" --config "$AS_CONFIG" >>"$AS_VAR/log/$1.log" 2>&1 </dev/null &
    echo $! >"$(pidfile "$1")"
    disown $! 2>/dev/null || true
}
stop_service() { # name signal
    local pid
    pid=$(cat "$(pidfile "$1")")
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
body=$(jq -nc --arg inv "$(days_ago 50)" '{
  customer: {name: "Bus Test", phone: "13600004444"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: "490154203237518"},
  purchase: {invoice_date: $inv, price_cents: 150000, invoice: true, warranty_card: true},
  fault: {code: "NO_SOUND", listed: true}, request: "repair"}')

# --- 1. the consumer is down while the event is emitted ---
stop_service warranty TERM
http POST /v1/tickets "$AS_TOKEN_CENTER" "$body"
t_status "a ticket opens while warranty is down" 201
id=$(jbody .id)
sleep 1
http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"
t_jq "without warranty the ticket waits undecided" .state received
start_service warranty
decided() { http GET "/v1/tickets/$id" "$AS_TOKEN_CENTER"; [ "$(jbody .state)" = adjudicated ]; }
if wait_until 20 decided; then t_ok "the event is applied after the consumer starts"; else
    t_fail "the event is applied after the consumer starts" "state $(jbody .state)"; fi
t_eq "the ticket was decided exactly once" 1 "$(q warranty "SELECT count(*) FROM decisions WHERE ticket_id = '$id'")"

# --- 2. SIGKILL in the middle of a stream of 1,000 events ---
n=1000
seq 1 "$n" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
    --data-binary "$body" "$AS_GATEWAY_URL/v1/tickets" >"$AS_VAR/bus_codes.txt" &
loader=$!
applied_some() { [ "$(q warranty "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")" -gt 150 ]; }
wait_until 60 applied_some || true
stop_service warranty KILL
killed_at=$(q warranty "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")
wait "$loader"
t_eq "all $n tickets were acknowledged" "$n" "$(grep -c '^201$' "$AS_VAR/bus_codes.txt")"
head=$(q intake "SELECT last_seq FROM outbox_streams WHERE stream = 'intake'")
if [ "$killed_at" -lt "$head" ]; then t_ok "the consumer was killed mid-stream ($killed_at of $head)"; else
    t_fail "the consumer was killed mid-stream" "it had already applied $killed_at of $head"; fi
start_service warranty
caught_up() { [ "$(q warranty "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")" = "$head" ]; }
if wait_until 120 caught_up; then t_ok "the restarted consumer catches up to the head"; else
    t_fail "the restarted consumer catches up to the head" "stuck at $(q warranty "SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'")"; fi
t_eq "every sequence was applied exactly once, with no gap" "$head $head 1" \
    "$(q warranty "SELECT count(*), max(seq), min(seq) FROM consumer_applied WHERE stream = 'intake'" | tr '|' ' ')"
opened=$(q intake "SELECT count(*) FROM outbox WHERE stream = 'intake' AND type = 'intake.TicketOpened'")
t_eq "every opened ticket has exactly one decision" "$opened" "$(q warranty "SELECT count(DISTINCT ticket_id) || '/' || count(*) FROM decisions" | cut -d/ -f2)"
t_eq "no decision is duplicated" "$opened" "$(q warranty "SELECT count(DISTINCT ticket_id) FROM decisions")"
all_decided() { [ "$(q intake "SELECT count(*) FROM tickets WHERE state = 'received'")" = 0 ]; }
if wait_until 60 all_decided; then t_ok "every ticket reached its decided state"; else
    t_fail "every ticket reached its decided state" "$(q intake "SELECT count(*) FROM tickets WHERE state = 'received'") still received"; fi
t_eq "intake applied each warranty event once, with no gap" \
    "$(q warranty "SELECT last_seq FROM outbox_streams WHERE stream = 'warranty'")" \
    "$(q intake "SELECT count(*) FROM consumer_applied WHERE stream = 'warranty'")"
t_done
