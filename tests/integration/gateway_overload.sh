#!/usr/bin/env bash
# The gateway's cap of requests in flight for the whole process (max_inflight_requests): a flood
# from many principals cannot queue unbounded work in the services.
#
# The gateway is restarted with max_inflight_requests = 2. A database session holds intake's
# tickets and parts' catalogue locked, so two list reads (the desk's GET /v1/tickets, the
# warehouse's GET /v1/parts/skus — two principals, each well within its own caps) wait in their
# services; once PostgreSQL shows both waiting, a third principal's request is answered 503
# overloaded with Retry-After at once, without reaching a service. The lock is released: the two
# waiting reads are answered 200, a new request is served again, /metrics counts the refusal and
# shows nothing left in flight, the refusal is logged with the client's address. No timing is
# asserted: "waiting" is read from pg_stat_activity. The gateway is restarted with the stack's
# own configuration at the end.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../faults/lib.sh"

DIR=$AS_VAR/overload
rm -rf "$DIR"
mkdir -p "$DIR"
CONF=$DIR/aftersales.conf
cp "$AS_CONFIG" "$CONF"
chmod 600 "$CONF"
# The [gateway] section is the last one of the generated file.
cat >>"$CONF" <<'CONF'
max_inflight_requests = 2
upstream_timeout_ms = 60000
CONF

restart_gateway() {
    f_stop gateway
    f_start gateway
    f_wait 60 f_healthy
}
LOCKER=
cleanup() {
    exec 7>&- 2>/dev/null
    [ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
    unset 'F_CONFIG_OF[gateway]'
    restart_gateway >/dev/null 2>&1
}
trap cleanup EXIT
F_CONFIG_OF[gateway]=$CONF
restart_gateway || t_fail "the gateway restarts with max_inflight_requests = 2" "not healthy"

metric() { printf '%s\n' "$HTTP_BODY" | sed -n "s/^$1 //p"; } # NAME — its value in the last body
http GET /metrics "$AS_TOKEN_ADMIN"
t_eq "/metrics shows the cap" 2 "$(metric aftersales_http_inflight_requests_limit)"
t_eq "/metrics shows no request in flight" 0 "$(metric aftersales_http_inflight_requests)"
t_eq "/metrics counts no refusal yet" 0 "$(metric aftersales_http_overloaded_total)"

imei=$(new_imei)
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg inv "$(days_ago 40)" --arg imei "$imei" '{
  customer: {name: "Over Load", phone: "13900003333"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", description: "will not power on", listed: true}, request: "repair"}')"
t_status "the desk opens a ticket" 201
id=$(jbody .id)

# The lock: a superuser session that holds both tables until the script says COMMIT.
mkfifo "$DIR/lock.in"
"${AS_ROOT:-.}"/deploy/local/stack.sh psql super -XAtq -v ON_ERROR_STOP=1 <"$DIR/lock.in" \
    >"$DIR/lock.out" 2>&1 &
LOCKER=$!
exec 7>"$DIR/lock.in"
echo "BEGIN; LOCK TABLE intake.tickets, parts.skus IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
locked() { grep -c '^locked$' "$DIR/lock.out" 2>/dev/null; }
t_poll "a session holds intake's tickets and parts' catalogue locked" 1 locked

slow() { # NAME TOKEN PATH — a read in the background; its status into $DIR/NAME
    curl -s -o "$DIR/$1.body" -w '%{http_code}' --max-time 120 -H "Authorization: Bearer $2" \
        "$AS_GATEWAY_URL$3" >"$DIR/$1" &
}
slow desk "$AS_TOKEN_CENTER" "/v1/tickets?limit=5"
DESK=$!
slow warehouse "$AS_TOKEN_WAREHOUSE" "/v1/parts/skus"
WAREHOUSE=$!
waiting() {
    q super "SELECT count(DISTINCT application_name) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND application_name IN ('as-intake', 'as-parts')"
}
t_poll "both reads wait in their services (the gateway has 2 in flight)" 2 waiting

# A third principal, a read the services would answer at once: the gateway is full.
: >"$DIR/h"
TMP=$DIR
http GET "/v1/tickets/$id" "$AS_TOKEN_ADMIN" "" -D "$DIR/h"
t_status "a third request beyond max_inflight_requests is refused" 503
t_jq "... as overloaded" .error.code overloaded
t_eq "... with Retry-After" 1 "$(hdr Retry-After)"
t_eq "... while the two reads still wait" "2" "$(waiting)"
http GET /livez
t_status "the gateway stays up (/livez)" 200

echo "COMMIT;" >&7
exec 7>&-
wait "$LOCKER" 2>/dev/null
LOCKER=
wait "$DESK" "$WAREHOUSE"
t_eq "the desk's waiting list read is answered" 200 "$(cat "$DIR/desk")"
t_eq "the warehouse's waiting list read is answered" 200 "$(cat "$DIR/warehouse")"
t_eq "... with the catalogue" true "$(jq '.skus | type == "array"' "$DIR/warehouse.body" 2>/dev/null)"

http GET "/v1/tickets/$id" "$AS_TOKEN_ADMIN"
t_status "with the reads answered, the same request is served" 200
t_jq "... the ticket" .id "$id"

http GET /metrics "$AS_TOKEN_ADMIN"
t_eq "/metrics counts the refusal" 1 "$(metric aftersales_http_overloaded_total)"
t_eq "/metrics shows nothing left in flight" 0 "$(metric aftersales_http_inflight_requests)"
t_eq "/metrics counts the 503 on its route" 1 \
    "$(metric 'aftersales_http_request_duration_seconds_count{method="GET",route="\/v1\/tickets\/{id}",status="503"}')"
t_match "the refusal is logged with the client's address and the reason" \
    'peer=127\.0\.0\.1[^ ]* status=503 reason=overloaded' \
    "$(grep 'status=503 reason=overloaded' "$AS_VAR/log/gateway.log" | tail -1)"

t_done
