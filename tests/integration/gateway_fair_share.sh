#!/usr/bin/env bash
# Fair share: per-principal and per-address rate limits (429 with Retry-After) keep one heavy
# reader from crowding out a desk.
#
# The gateway is restarted with strict limits (10 requests/s per principal, burst 10, at most 2
# in flight; 100/s per address, burst 100). Then the region manager floods GET /v1/tickets from 127.0.0.7 (1,000
# requests, 8 at a time) while the desk reads one ticket ten times a second from 127.0.0.1.
# Asserted: the flooder gets 429s carrying Retry-After, the desk's reads all succeed, an
# unauthenticated flood from 127.0.0.8 hits the per-address limit, /metrics counts all three
# (by principal's rate, by address, by requests in flight) and the
# gateway logs the refusals with the address. The desk's latencies (alone, and under the
# flood) are printed as comments, never asserted. The gateway is restarted with the stack's own
# configuration at the end.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../faults/lib.sh"

DIR=$AS_VAR/fair-share
mkdir -p "$DIR"
CONF=$DIR/aftersales.conf
cp "$AS_CONFIG" "$CONF"
chmod 600 "$CONF"
# The [gateway] section is the last one of the generated file.
cat >>"$CONF" <<'CONF'
rate_limit_per_principal = 10
rate_limit_per_principal_burst = 10
max_inflight_per_principal = 2
rate_limit_per_address = 100
rate_limit_per_address_burst = 100
CONF

restart_gateway() {
    f_stop gateway
    f_start gateway
    f_wait 60 f_healthy
}
cleanup() {
    unset 'F_CONFIG_OF[gateway]'
    restart_gateway >/dev/null 2>&1
}
trap cleanup EXIT
F_CONFIG_OF[gateway]=$CONF
restart_gateway || t_fail "the gateway restarts with strict limits" "not healthy"

# Decision 25: each service reads collections on a second database connection (a list never
# holds up a one-ticket read pipelined behind it on the main one).
t_eq "intake holds two database connections (commands, and collection reads)" 2 \
    "$(q intake "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'as-intake'")"

http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_json '.customer.name = "Fair Share"')"
t_status "the desk opens a ticket" 201
id=$(jbody .id)

# desk_reads N FILE — N reads of the ticket, 0.1 s apart; "status seconds" lines into FILE.
desk_reads() {
    local i
    : >"$2"
    for ((i = 0; i < $1; i++)); do
        curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' \
            -H "Authorization: Bearer $AS_TOKEN_CENTER" "$AS_GATEWAY_URL/v1/tickets/$id" >>"$2"
        sleep 0.1
    done
}
summary() { # FILE — "n, p50, max" of the latencies in ms
    awk '{print $2 * 1000}' "$1" | sort -n | awk '{a[NR] = $1} END {printf "%d reads, p50 %.1f ms, max %.1f ms", NR, a[int((NR + 1) / 2)], a[NR]}'
}
# The desk alone first (its own bucket holds 10: these stay within 10/s).
desk_reads 10 "$DIR/alone"

# The flood: 1,000 list reads as the region manager from 127.0.0.7, 8 at a time.
cfg=$DIR/flood.curl
: >"$cfg"
for ((i = 0; i < 1000; i++)); do
    printf 'url = "%s/v1/tickets"\noutput = "/dev/null"\n' "$AS_GATEWAY_URL" >>"$cfg"
done
curl -s --parallel --parallel-max 8 --interface 127.0.0.7 -H "Authorization: Bearer $AS_TOKEN_REGION" \
    -D "$DIR/flood.headers" -w '%{http_code}\n' -K "$cfg" >"$DIR/flood.codes" 2>/dev/null &
flood=$!
desk_reads 40 "$DIR/under"
wait "$flood"

n429=$(grep -c '^429$' "$DIR/flood.codes")
n200=$(grep -c '^200$' "$DIR/flood.codes")
t_note "flooder: $n200 answered 200, $n429 answered 429 of $(wc -l <"$DIR/flood.codes")"
t_note "desk alone:      $(summary "$DIR/alone")"
t_note "desk under flood: $(summary "$DIR/under")"
if [ "$n429" -gt 0 ]; then t_ok "the flooding principal gets 429"; else t_fail "the flooding principal gets 429" "no 429 among its answers"; fi
if grep -qi '^Retry-After: [1-9][0-9]*' "$DIR/flood.headers"; then
    t_ok "a 429 carries Retry-After"
else
    t_fail "a 429 carries Retry-After" "no Retry-After header"
fi
t_eq "every desk read under the flood succeeds" "40" "$(grep -c '^200 ' "$DIR/under")"
t_eq "every desk read alone succeeds" "10" "$(grep -c '^200 ' "$DIR/alone")"

# Per address: an unauthenticated flood of /healthz from 127.0.0.8.
: >"$cfg"
for ((i = 0; i < 600; i++)); do
    printf 'url = "%s/healthz"\noutput = "/dev/null"\n' "$AS_GATEWAY_URL" >>"$cfg"
done
curl -s --parallel --parallel-max 16 --interface 127.0.0.8 -w '%{http_code}\n' -K "$cfg" >"$DIR/addr.codes" 2>/dev/null
t_note "address flood: $(grep -c '^429$' "$DIR/addr.codes") of $(wc -l <"$DIR/addr.codes") answered 429"
if grep -q '^429$' "$DIR/addr.codes"; then t_ok "one address beyond its rate gets 429"; else t_fail "one address beyond its rate gets 429" "no 429"; fi
http GET /v1/tickets/"$id" "$AS_TOKEN_CENTER"
t_status "the desk still reads meanwhile (its address has its own bucket)" 200

http GET /metrics "$AS_TOKEN_ADMIN"
by_p=$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^aftersales_http_rate_limited_total{by="principal"} \([0-9]*\)$/\1/p')
by_a=$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^aftersales_http_rate_limited_total{by="address"} \([0-9]*\)$/\1/p')
by_i=$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^aftersales_http_rate_limited_total{by="inflight"} \([0-9]*\)$/\1/p')
if [ "${by_p:-0}" -gt 0 ] && [ "${by_a:-0}" -gt 0 ]; then
    t_ok "/metrics counts the 429s by principal and by address"
else
    t_fail "/metrics counts the 429s by principal and by address" "principal=${by_p:-none} address=${by_a:-none}"
fi
# 8 list reads at a time against a cap of 2: the cap refuses some before the rate does.
if [ "${by_i:-0}" -gt 0 ]; then
    t_ok "the flooder's requests beyond 2 in flight are refused (429, counted by=inflight)"
else
    t_fail "the flooder's requests beyond 2 in flight are refused (429, counted by=inflight)" "inflight=${by_i:-none}"
fi
if grep -q 'refused.*peer=127\.0\.0\.7:[0-9]* status=429' "$AS_VAR/log/gateway.log"; then
    t_ok "the gateway logs the refusals with the address"
else
    t_fail "the gateway logs the refusals with the address" "no 'refused ... peer=127.0.0.7 status=429' line"
fi
# Event streams (GET /v1/events as text/event-stream) stay open: they have their own cap and do
# not take the principal's list-read slots — with two streams open, list reads still answer.
sleep 2 # the admin's rate bucket refills
for n in 1 2; do
    timeout 8 curl -s -N -H "Authorization: Bearer $AS_TOKEN_ADMIN" -H 'Accept: text/event-stream' \
        "$AS_GATEWAY_URL/v1/events" >"$DIR/sse.$n" 2>/dev/null &
done
sleep 1 # both streams are open (they answer at once with the feed so far)
codes=""
for _ in 1 2 3; do
    http GET "/v1/tickets?limit=1" "$AS_TOKEN_ADMIN"
    codes="$codes$HTTP_STATUS "
done
t_eq "with two event streams open, the same principal's list reads are answered" "200 200 200 " "$codes"
wait

t_done
