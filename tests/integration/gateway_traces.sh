#!/usr/bin/env bash
# Traces end to end (issue 20 point 2):
#   - every reply carries X-Request-Id (the client's when well-formed, else a new one) and
#     X-Trace-Id (the trace of a W3C traceparent, or a new one when it is absent or malformed);
#   - one trace id is followed from the HTTP request through the gateway's access-log line, the
#     intake service's command line, intake's outbox row and the events it publishes, to the
#     consumers that apply them (their "event applied" lines carry it);
#   - the access log has one line per request (method, route template, status, duration,
#     subject, request id, trace id); a 401 is logged too;
#   - log_format = json: every line of a second gateway is one JSON object, and a value with
#     quotes or a line break stays inside its field (text mode escapes it as well).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

t_scratch
LOG=$AS_VAR/log

ticket_body() { ticket_json '.customer = {name: "Trace Test", phone: "13900003333"}'; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# hdr NAME — a response header's value from $TMP/h
# wait_for FILE TEXT [SECONDS] — until FILE has a line with TEXT
wait_for() {
    local i
    for i in $(seq 1 $((${3:-20} * 5))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# ---- 1. ids on every reply ----
TRACE=$(hex 16)
PARENT=$(hex 8)
RID=trace-test-$RANDOM$RANDOM
code=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
    -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
    -H "traceparent: 00-$TRACE-$PARENT-01" -H "X-Request-Id: $RID" \
    -H "Idempotency-Key: trace-$RID" --data-binary "$(ticket_body)")
t_eq "a ticket opens with a traceparent" 201 "$code"
TICKET=$(jq -r .id "$TMP/b")
t_eq "the reply carries the client's X-Request-Id" "$RID" "$(hdr X-Request-Id)"
t_eq "the reply carries the traceparent's trace id" "$TRACE" "$(hdr X-Trace-Id)"

curl -sS -o /dev/null -D "$TMP/h" "$AS_GATEWAY_URL/v1/tickets" -H "traceparent: 00-XYZ-nothex-01" \
    -H 'X-Request-Id: two words'
t_match "a malformed X-Request-Id is replaced by a new one" '^[0-9a-f]{32}$' "$(hdr X-Request-Id)"
t_match "a malformed traceparent starts a new trace" '^[0-9a-f]{32}$' "$(hdr X-Trace-Id)"
curl -sS -o /dev/null -D "$TMP/h" "$AS_GATEWAY_URL/v1/tickets" \
    -H "traceparent: 00-00000000000000000000000000000000-$PARENT-01"
t_match "an all-zero trace id is malformed too" '^[0-9a-f]{32}$' "$(hdr X-Trace-Id)"
[ "$(hdr X-Trace-Id)" != 00000000000000000000000000000000 ] && t_ok "... and is not taken" ||
    t_fail "... and is not taken" "$(hdr X-Trace-Id)"
curl -sS -o /dev/null -D "$TMP/h" "$AS_GATEWAY_URL/no/such/route"
t_match "a 404 carries X-Request-Id too" '^[0-9a-f]{32}$' "$(hdr X-Request-Id)"

# ---- 2. the trace through every log ----
if wait_for "$LOG/gateway.log" "trace=$TRACE"; then
    line=$(grep -F "trace=$TRACE" "$LOG/gateway.log" | grep -F 'msg="request"' | head -1)
    t_match "the gateway's access-log line: method, route, status, subject, request id, trace" \
        "method=POST route=\"/v1/tickets\" status=201 duration_ms=[0-9.]+ subject=\"[^\"]+\" role=center .*request_id=$RID trace=$TRACE" "$line"
else
    t_fail "the gateway logs the request with its trace id" "no line with trace=$TRACE"
fi
if wait_for "$LOG/intake.log" "trace=$TRACE"; then
    t_match "intake logs the command with the request and trace ids" \
        "msg=\"command\" type=intake.OpenTicket req=[^ ]+ trace=$TRACE .*status=201" \
        "$(grep -F "trace=$TRACE" "$LOG/intake.log" | head -1)"
else
    t_fail "intake logs the command with the trace id" "no line with trace=$TRACE in intake.log"
fi
t_eq "intake's outbox rows of the ticket carry the trace id" "$TRACE" \
    "$(q intake "SELECT DISTINCT trace_id FROM outbox WHERE payload->>'ticket_id' = '$TICKET' OR payload->>'id' = '$TICKET'" | head -1)"
# The consumers of intake's events log each applied event with its trace id.
consumers=0
for svc in warranty parts settlement surveys; do
    if wait_for "$LOG/$svc.log" "trace=$TRACE" 10; then
        consumers=$((consumers + 1))
        t_match "$svc logs the event it applied with the trace id" \
            "msg=\"event applied\" stream=intake seq=[0-9]+ type=[^ ]+ trace=$TRACE" \
            "$(grep -F "trace=$TRACE" "$LOG/$svc.log" | head -1)"
    fi
done
[ "$consumers" -ge 1 ] && t_ok "the trace reaches the consumers' logs ($consumers services)" ||
    t_fail "the trace reaches the consumers' logs" "no consumer log names $TRACE"
# An event a consumer emits because of it carries the same trace (warranty decides on open).
n=$(q warranty "SELECT count(*) FROM outbox WHERE trace_id = '$TRACE'")
[ "${n:-0}" -ge 1 ] && t_ok "events caused downstream carry the trace too (warranty: $n)" ||
    t_fail "events caused downstream carry the trace too" "warranty outbox rows with it: ${n:-none}"

# ---- 3. access log: every request, 401 included ----
curl -sS -o /dev/null -D "$TMP/h" "$AS_GATEWAY_URL/v1/tickets/$TICKET" -H 'Authorization: Bearer nope'
R401=$(hdr X-Request-Id)
if wait_for "$LOG/gateway.log" "request_id=$R401"; then
    t_match "a 401 is in the access log with its route template" \
        'method=GET route="/v1/tickets/\{id\}" status=401 .*subject="-"' \
        "$(grep -F "request_id=$R401" "$LOG/gateway.log" | head -1)"
else
    t_fail "a 401 is in the access log" "no line with request_id=$R401"
fi

# ---- 4. log_format = json (a second gateway) ----
GW=$(api_gateway_bin)
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AS_GATEWAY_HTTP_PORT=$PORT2 AS_GATEWAY_LOG_FORMAT=json "$GW" --config "$AS_CONFIG" >"$TMP/gw2.log" 2>&1 &
GW2_PID=$!
PIDS+=("$GW2_PID")
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT2/livez" && break
    sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$PORT2/v1/tickets" -H 'Authorization: Bearer x"y'
curl -s -o /dev/null "http://127.0.0.1:$PORT2/v1/tickets/a%22b%0Ac" -H "Authorization: Bearer $AS_TOKEN_CENTER"
sleep 0.5
kill "$GW2_PID" 2>/dev/null
wait "$GW2_PID" 2>/dev/null
GW2_PID=""
PIDS=()
bad=$(grep -v '^$' "$TMP/gw2.log" | while IFS= read -r l; do jq -e . >/dev/null 2>&1 <<<"$l" || echo "$l"; done)
[ -z "$bad" ] && t_ok "log_format=json: every line is one JSON object ($(wc -l <"$TMP/gw2.log") lines)" ||
    t_fail "log_format=json: every line is one JSON object" "$bad"
t_eq "log_format=json: the access line has its fields" "GET /v1/tickets 401" \
    "$(grep '"msg":"request"' "$TMP/gw2.log" | jq -r 'select(.status == "401") | "\(.method) \(.route) \(.status)"' | head -1)"
t_eq "log_format=json: the service name and level are fields" "gateway info" \
    "$(head -1 "$TMP/gw2.log" | jq -r '"\(.svc) \(.level)"')"
AS_GATEWAY_LOG_FORMAT=xml timeout 5 "$GW" --config "$AS_CONFIG" >"$TMP/bad.log" 2>&1
t_eq "an unknown log_format is refused at start (exit 2)" 2 "$?"
t_done
