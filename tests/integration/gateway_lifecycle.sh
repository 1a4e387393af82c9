#!/usr/bin/env bash
# Liveness, readiness, reload and a restart under load (issue 20 point 3), on gateways of this
# test's own (the stack's gateway is left alone):
#   - /livez is 200 while the process runs, whatever the services do;
#   - /readyz is 200 with each service's readiness while this gateway can serve, 503 only when
#     no service answers; /readyz/{service} is that service's (503 when it does not answer, 404
#     for an unknown name);
#   - SIGHUP reloads the tokens file and the reloadable settings, never kills the gateway; a
#     broken tokens file keeps the old tokens;
#   - SIGTERM: a request being received when the signal comes is still answered; a bounded loop
#     of requests across a stop and a start gets for every request an answer or a refused
#     connection (curl exit 7: nothing was sent), never a reset or an empty reply.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"
# The services (deploy/services.conf).
. "$(dirname "$0")/../../deploy/services.sh"

t_need_gateway
t_scratch
# start_gw NAME PORT [ENV=VALUE...] — a gateway of ours; its pid in $GW_PID
start_gw() {
    local name=$1 port=$2
    shift 2
    env "$@" AS_GATEWAY_HTTP_PORT="$port" "$GW" --config "$TMP/gw.conf" >>"$TMP/$name.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/livez" && return 0
        sleep 0.1
    done
    return 1
}
cp "$AS_CONFIG" "$TMP/gw.conf"
cp "$(sed -n 's/^tokens_file = //p' "$AS_CONFIG" | tail -1)" "$TMP/tokens"
printf 'tokens_file = %s\n' "$TMP/tokens" >>"$TMP/gw.conf"

# ---- livez / readyz ----
P1=$(free_port)
start_gw a "$P1" || t_fail "a gateway of ours starts" "no /livez"
G1=http://127.0.0.1:$P1
http GET /livez "" "" >/dev/null
AS_GATEWAY_URL=$G1 http GET /livez
t_status "/livez is 200" 200
t_jq "/livez says live" .status live
AS_GATEWAY_URL=$G1 http GET /readyz
t_status "/readyz is 200 with every service up" 200
t_jq "/readyz lists every service as ready" '[.services[]] | unique | join(",")' ready
t_jq "/readyz names every service of deploy/services.conf" '.services | keys | length' "${#AS_SERVICES[@]}"
AS_GATEWAY_URL=$G1 http GET /readyz/intake
t_status "/readyz/intake is 200" 200
AS_GATEWAY_URL=$G1 http GET /readyz/nosuch
t_status "/readyz/{unknown} is 404" 404
AS_GATEWAY_URL=$G1 http POST /readyz
t_status "/readyz takes GET only (405)" 405

# One service unreachable (intake pointed at a closed port): still serving, intake not ready.
DEAD=$(free_port)
P2=$(free_port)
start_gw b "$P2" AS_GATEWAY_INTAKE_CMD="tcp://127.0.0.1:$DEAD" || t_fail "a second gateway starts" "no /livez"
AS_GATEWAY_URL=http://127.0.0.1:$P2 http GET /readyz
t_status "/readyz stays 200 when one service is down (the others can be served)" 200
t_jq "/readyz names the one that is down" .services.intake unavailable
AS_GATEWAY_URL=http://127.0.0.1:$P2 http GET /readyz/intake
t_status "/readyz/intake is 503 when intake does not answer" 503
kill "$GW_PID"
# No service reachable: cannot serve.
P3=$(free_port)
envs=()
for s in "${AS_SERVICES[@]}"; do
    envs+=("AS_GATEWAY_${s^^}_CMD=tcp://127.0.0.1:$DEAD")
done
start_gw c "$P3" "${envs[@]}" || t_fail "a third gateway starts" "no /livez"
AS_GATEWAY_URL=http://127.0.0.1:$P3 http GET /readyz
t_status "/readyz is 503 when no service answers" 503
AS_GATEWAY_URL=http://127.0.0.1:$P3 http GET /livez
t_status "/livez is still 200 then (the process is fine)" 200
kill "$GW_PID"

# ---- SIGHUP ----
G1_PID=${PIDS[0]}
NEWTOK=reload-$RANDOM$RANDOM$RANDOM
AS_GATEWAY_URL=$G1 http GET "/v1/tickets?limit=1" "$NEWTOK"
t_status "a token not yet in the file is 401" 401
printf '%s reload.desk center SH01 east\n' "$(printf '%s' "$NEWTOK" | sha256sum | cut -d' ' -f1)" >>"$TMP/tokens"
printf 'cors_origins = https://crm.example.test\n' >>"$TMP/gw.conf"
kill -HUP "$G1_PID"
sleep 0.5
kill -0 "$G1_PID" 2>/dev/null && t_ok "SIGHUP does not kill the gateway" || t_fail "SIGHUP does not kill the gateway" "gone"
AS_GATEWAY_URL=$G1 http GET "/v1/tickets?limit=1" "$NEWTOK"
t_status "after SIGHUP the new token works" 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$G1/v1/tickets" -H 'Origin: https://crm.example.test' \
    -H 'Access-Control-Request-Method: POST')
t_eq "after SIGHUP a setting (cors_origins) is in force" 204 "$code"
grep -q 'msg="reloaded"' "$TMP/a.log" && t_ok "the reload is logged" || t_fail "the reload is logged" "$(tail -3 "$TMP/a.log")"
cp "$TMP/tokens" "$TMP/tokens.good"
printf 'this is not a token line\n' >>"$TMP/tokens"
kill -HUP "$G1_PID"
sleep 0.5
AS_GATEWAY_URL=$G1 http GET "/v1/tickets?limit=1" "$NEWTOK"
t_status "a broken tokens file on SIGHUP keeps the old tokens" 200
grep -q 'tokens file refused' "$TMP/a.log" && t_ok "... and says why in the log" || t_fail "... and says why in the log" "$(tail -3 "$TMP/a.log")"
cp "$TMP/tokens.good" "$TMP/tokens"

# ---- SIGTERM: the request being received is answered ----
BIG=$(python3 -c 'print("x" * 60000)')
jq -nc --arg d "$BIG" '{customer:{name:"Slow",phone:"13900004444"},fault:{description:$d}}' >"$TMP/slow.json"
curl -s -o "$TMP/slow.out" -w '%{http_code}' --limit-rate 20k -X POST "$G1/v1/tickets" \
    -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
    --data-binary @"$TMP/slow.json" >"$TMP/slow.code" 2>/dev/null &
SLOW=$!
sleep 1
kill -TERM "$G1_PID"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$G1/livez"; echo " $?")
t_match "while draining, new connections are refused" '^000 7$' "$code"
wait "$SLOW"
t_match "the request in flight at SIGTERM is answered" '^[2-5][0-9][0-9]$' "$(cat "$TMP/slow.code")"
for _ in $(seq 1 50); do kill -0 "$G1_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$G1_PID" 2>/dev/null && t_fail "the gateway exits once drained" "still running" || t_ok "the gateway exits once drained"
grep -q 'msg="drained"' "$TMP/a.log" && t_ok "the drain is logged" || t_fail "the drain is logged" "$(tail -3 "$TMP/a.log")"

# ---- a restart under load loses no request ----
P4=$(free_port)
G4=http://127.0.0.1:$P4
start_gw d "$P4" || t_fail "the gateway for the restart starts" "no /livez"
worker() { # N — N requests, one line each: "<curl exit> <http code>"
    local i out
    for i in $(seq 1 "$1"); do
        out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$G4/v1/tickets?limit=1" \
            -H "Authorization: Bearer $AS_TOKEN_CENTER")
        echo "$? $out"
    done
}
for w in 1 2 3 4; do worker 60 >"$TMP/load.$w" & done
sleep 0.7
kill -TERM "$GW_PID"
wait "$GW_PID" 2>/dev/null
start_gw d "$P4" || t_fail "the gateway starts again" "no /livez"
wait $(jobs -p | grep -v "^$GW_PID\$") 2>/dev/null
cat "$TMP"/load.* >"$TMP/load"
total=$(wc -l <"$TMP/load")
answered=$(grep -c '^0 200$' "$TMP/load")
refused=$(grep -c '^7 000$' "$TMP/load")
other=$(grep -v -e '^0 200$' -e '^7 000$' "$TMP/load" | sort | uniq -c | tr '\n' ';')
t_eq "240 requests across the restart were made" 240 "$total"
t_eq "each got an answer (200) or a refused connection before it was sent" "" "$other"
t_note "answered $answered, refused $refused"
[ "$answered" -gt 0 ] && [ "$refused" -ge 0 ] && t_ok "requests were answered on both sides of the restart" ||
    t_fail "requests were answered" "$answered"
t_done
