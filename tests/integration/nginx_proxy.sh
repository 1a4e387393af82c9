#!/usr/bin/env bash
# nginx in front of two gateways (deploy/nginx/aftersales.conf, issue 20 point 4): the example
# file itself — upstream addresses, ports and certificate paths replaced — runs on loopback in
# front of two gateways of this test's own (the stack's services, trusted_proxies = 127.0.0.1):
#   - plain HTTP is redirected to HTTPS; over TLS (a throw-away certificate for the example's
#     server name, verified by curl) a ticket is read and one opened;
#   - both gateways serve (round robin), and with one of them stopped every request still gets
#     its answer (proxy_next_upstream);
#   - the client's address as the gateway logs it is the client's (127.0.0.2, curl --interface),
#     with proto=https, and a forged X-Forwarded-For from the client does not reach the log;
#   - the event feed as Server-Sent Events streams through nginx unbuffered: an event created
#     while the stream is open arrives before the stream ends (the example's proxy_buffering
#     off and the gateway's own X-Accel-Buffering: no both ask for that).
# Skipped (one ok … # skipped line) when nginx is not installed (Debian package nginx).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"
ROOT=${AS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd -P)}

. "$ROOT/tests/nginx.sh"
if [ -z "$NGINX" ]; then
    t_ok "nginx in front of two gateways # skipped: nginx is not installed (Debian package nginx)"
    t_done
fi
t_need_gateway
t_scratch

# ---- two gateways of ours -------------------------------------------------------------------
start_gw() { # NAME PORT — a gateway trusting 127.0.0.1 as its proxy; pid in GW_PID
    AS_GATEWAY_HTTP_PORT=$2 AS_GATEWAY_TRUSTED_PROXIES=127.0.0.1 "$GW" --config "$AS_CONFIG" \
        >>"$TMP/$1.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$2/livez"
}
P1=$(free_port)
start_gw gw1 "$P1" || t_fail "gateway 1 starts" "no /livez"
G1_PID=$GW_PID
P2=$(free_port)
start_gw gw2 "$P2" || t_fail "gateway 2 starts" "no /livez"

# ---- nginx with the example configuration ---------------------------------------------------
HTTP_PORT=$(free_port)
TLS_PORT=$(free_port)
NAME=$NGINX_NAME
upstreams=$(grep -cE '^ *server [0-9.]+:8480 ' "$ROOT/deploy/nginx/aftersales.conf")
t_eq "the example fronts two gateways" 2 "$upstreams"
nginx_example "$TMP/nginx" "127.0.0.1:$P1" "127.0.0.1:$P2" "127.0.0.1:$HTTP_PORT" "127.0.0.1:$TLS_PORT" ||
    t_fail "the example is made ready for loopback" "openssl or sed failed"
if out=$("$NGINX" -t -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>&1); then
    t_ok "nginx -t accepts the example configuration"
else
    t_fail "nginx -t accepts the example configuration" "$out"
fi
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' >"$TMP/nginx/out" 2>&1 &
PIDS+=($!)
wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/" || t_fail "nginx starts" "$(cat "$TMP/nginx/out")"

# ncurl ARGS... — curl to nginx over TLS from 127.0.0.2, verifying the throw-away certificate.
BASE=https://$NAME:$TLS_PORT
ncurl() {
    curl -s --interface 127.0.0.2 --resolve "$NAME:$TLS_PORT:127.0.0.1" --cacert "$TMP/nginx/fullchain.pem" "$@"
}

# ---- a request ---------------------------------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP_PORT/v1/tickets" -H "Host: $NAME")
t_eq "plain HTTP is redirected to HTTPS" "301 https://$NAME/v1/tickets" "$code"
RID=nginx-$$-$RANDOM
body=$(jq -nc --arg imei "$(new_imei)" --arg inv "$(days_ago 40)" '{
  customer: {name: "Proxy Test", phone: "13900001111"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')
code=$(ncurl -o "$TMP/open" -w '%{http_code}' -X POST "$BASE/v1/tickets" -H "Authorization: Bearer $AS_TOKEN_CENTER" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: $RID" -H "X-Request-Id: $RID-open" \
    -H 'X-Forwarded-For: 203.0.113.9' --data-binary "$body")
t_eq "a ticket is opened through nginx over TLS" 201 "$code"
TICKET=$(jq -r .id "$TMP/open")
code=$(ncurl -o /dev/null -w '%{http_code}' "$BASE/v1/tickets/$TICKET" -H "Authorization: Bearer $AS_TOKEN_CENTER" -H "X-Request-Id: $RID-read")
t_eq "... and read back" 200 "$code"
sleep 0.3
line=$(grep -hF "request_id=$RID-open" "$TMP/gw1.log" "$TMP/gw2.log")
t_match "the gateway logs the client's own address and https (X-Forwarded-For/-Proto from its trusted proxy)" \
    'client=127\.0\.0\.2 proto=https' "$line"
t_eq "a client's forged X-Forwarded-For does not reach the log" "" "$(grep -o '203\.0\.113\.9' <<<"$line")"

# ---- two gateways ------------------------------------------------------------------------------
for i in $(seq 1 10); do
    ncurl -o /dev/null "$BASE/v1/tickets/$TICKET" -H "Authorization: Bearer $AS_TOKEN_CENTER" -H "X-Request-Id: $RID-rr-$i"
done
sleep 0.3
n1=$(grep -c "request_id=$RID-rr-" "$TMP/gw1.log")
n2=$(grep -c "request_id=$RID-rr-" "$TMP/gw2.log")
t_eq "ten requests went to the two gateways (both served)" "10 yes yes" \
    "$((n1 + n2)) $([ "$n1" -gt 0 ] && echo yes || echo no) $([ "$n2" -gt 0 ] && echo yes || echo no)"
kill -TERM "$G1_PID"
wait_until 20 bash -c "! kill -0 $G1_PID 2>/dev/null"
codes=""
for i in $(seq 1 10); do
    codes+="$(ncurl -o /dev/null -w '%{http_code}' "$BASE/v1/tickets/$TICKET" -H "Authorization: Bearer $AS_TOKEN_CENTER") "
done
t_eq "with gateway 1 stopped every request is still answered (by gateway 2)" "200 200 200 200 200 200 200 200 200 200" "${codes% }"

# ---- Server-Sent Events through nginx ------------------------------------------------------------
HEAD=$(q notify "SELECT coalesce(max(position), 0) FROM events")
ncurl -N --max-time 40 -o "$TMP/sse" -D "$TMP/sse.h" -H "Authorization: Bearer $AS_TOKEN_ADMIN" \
    -H 'Accept: text/event-stream' "$BASE/v1/events?after=$HEAD&type=intake.TicketOpened" &
SSE=$!
PIDS+=("$SSE")
wait_until 10 grep -qsi '^content-type: text/event-stream' "$TMP/sse.h" ||
    t_fail "the event stream opens through nginx" "$(cat "$TMP/sse.h" 2>/dev/null)"
code=$(ncurl -o "$TMP/open2" -w '%{http_code}' -X POST "$BASE/v1/tickets" -H "Authorization: Bearer $AS_TOKEN_CENTER" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: $RID-2" \
    --data-binary "$(jq -c --arg imei "$(new_imei)" '.device.imei = $imei' <<<"$body")")
T2=$(jq -r .id "$TMP/open2")
t_eq "a second ticket is opened while the stream is open" 201 "$code"
if wait_until 30 grep -q "\"ticket_id\":\"$T2\"" "$TMP/sse"; then
    if kill -0 "$SSE" 2>/dev/null; then
        t_ok "its event arrives through nginx while the stream is still open (not buffered)"
    else
        t_fail "its event arrives while the stream is still open" "the stream had ended first"
    fi
else
    t_fail "its event arrives through nginx" "$(head -c 600 "$TMP/sse")"
fi
kill "$SSE" 2>/dev/null
t_done
