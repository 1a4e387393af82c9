#!/usr/bin/env bash
# intake: GET /v1/tickets read in pages (decision 0033). Every list — newest first or key and VIP
# customers first, for a centre, a region and head office, with the filters the console uses
# (state, dates, phone, IMEI, serial, centre) — walked page by page with the cursor returns
# exactly the tickets the caller may see that match, each once, in the documented order: the
# same list as a plain query over the table ordered by (priority, opened_at DESC, id DESC) or
# (opened_at DESC, id DESC). And the indexes the lists rely on exist, and are used.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
VPHONE=1363$(printf '%07d' $((RUN % 10000000)))
KPHONE=1364$(printf '%07d' $((RUN % 10000000)))
RPHONE=1365$(printf '%07d' $((RUN % 10000000)))
ticket() { # token phone category [center]
    local dev
    if [ "$3" = general ]; then
        dev="{\"category\":\"general\",\"general_item\":\"color_tv\",\"brand\":\"Huaxin\",\"model\":\"TV-55\",\"serial\":\"LS$RUN$RANDOM\"}"
    else
        local i
        i=$(new_imei)
        dev="{\"category\":\"phone_host\",\"brand\":\"Huaxin\",\"model\":\"HX-10\",\"imei\":\"$i\",\"imei_label\":\"$i\"}"
    fi
    http POST /v1/tickets "$1" "$(jq -nc --arg ph "$2" --argjson dev "$dev" --arg c "${4:-}" \
        --arg inv "$(TZ=Asia/Shanghai date -d '-20 days' +%F)" '{
      customer: {name: "List Test", phone: $ph}, device: $dev,
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"} + (if $c == "" then {} else {center: $c} end)')"
}

B=${AS_CENTER_B_CODE:-GZ01}
# A VIP, a key and a regular customer with tickets at SH01, interleaved in time; some at $B.
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"List VIP $RUN\",\"phones\":[\"$VPHONE\"],\"tier\":\"vip\",\"account_owner\":\"Ma Li\"}"
t_status "a VIP customer" 201
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"List Key $RUN\",\"phones\":[\"$KPHONE\"],\"tier\":\"key\",\"account_owner\":\"Ma Li\"}"
t_status "a key customer" 201
ok=0
for round in 1 2 3; do
    for ph in "$RPHONE" "$KPHONE" "$VPHONE" "$RPHONE"; do
        cat=phone_host
        [ $((round % 2)) -eq 0 ] && cat=general
        ticket "$AS_TOKEN_CENTER" "$ph" "$cat"
        [ "$HTTP_STATUS" = 201 ] && ok=$((ok + 1))
    done
    ticket "$AS_TOKEN_CENTER_B" "$RPHONE" phone_host
    [ "$HTTP_STATUS" = 201 ] && ok=$((ok + 1))
done
t_eq "15 tickets opened (12 at SH01, 3 at $B)" 15 "$ok"
IMEI=$(q intake "SELECT device->>'imei' FROM tickets WHERE customer_phone = '$KPHONE' AND device ? 'imei' LIMIT 1")
SERIAL=$(q intake "SELECT device->>'serial' FROM tickets WHERE customer_phone = '$VPHONE' AND device ? 'serial' LIMIT 1")
TODAY=$(TZ=Asia/Shanghai date +%F)

# walk TOKEN QUERY — every page of GET /v1/tickets?QUERY ($PAGE a page), the ids in order.
PAGE=4
walk() {
    local after="" ids="" n=0
    while :; do
        http GET "/v1/tickets?$2&limit=$PAGE${after:+&after=$after}" "$1"
        [ "$HTTP_STATUS" = 200 ] || {
            echo "HTTP $HTTP_STATUS $HTTP_BODY"
            return
        }
        ids="$ids $(jbody '[.tickets[].id] | join(" ")')"
        after=$(jbody '.next // empty')
        n=$((n + 1))
        [ -n "$after" ] && [ $n -lt 5000 ] || break
    done
    echo $ids
}
# expect ORDER WHERE — the same list as a plain query over the table.
expect() {
    local order="opened_at DESC, id DESC"
    [ "$1" = priority ] && order="ticket_priority(customer_id), opened_at DESC, id DESC"
    q intake "SELECT coalesce(string_agg(id, ' ' ORDER BY $order), '') FROM tickets WHERE $2"
}
# Both orders of one filter, compared with the table. The lists are walked in full, so they are
# kept to this run's tickets (its phones) or to a narrow filter, except the scope checks below.
both() { # name token query where
    local o
    for o in newest priority; do
        t_eq "$1, $o: every page with the cursor is the table's list" \
            "$(expect "$o" "$4")" "$(walk "$2" "$3&order=$o")"
    done
}
today_sql="opened_at >= '$TODAY'::date::timestamp AT TIME ZONE 'Asia/Shanghai'"
mine="customer_phone IN ('$VPHONE', '$KPHONE', '$RPHONE')"
both "desk, the VIP's phone" "$AS_TOKEN_CENTER" "phone=$VPHONE" "center = 'SH01' AND customer_phone = '$VPHONE'"
both "desk, the regular phone ($B's tickets not shown)" "$AS_TOKEN_CENTER" "phone=$RPHONE" "center = 'SH01' AND customer_phone = '$RPHONE'"
both "admin, the regular phone (both centres)" "$AS_TOKEN_ADMIN" "phone=$RPHONE" "customer_phone = '$RPHONE'"
both "region, the regular phone" "$AS_TOKEN_REGION" "phone=$RPHONE" "region = 'east' AND customer_phone = '$RPHONE'"
both "desk, an IMEI" "$AS_TOKEN_CENTER" "imei=$IMEI" "center = 'SH01' AND device->>'imei' = '$IMEI'"
both "desk, a serial number" "$AS_TOKEN_CENTER" "serial=$SERIAL" "center = 'SH01' AND device->>'serial' = '$SERIAL'"
both "admin, centre $B today, the regular phone" "$AS_TOKEN_ADMIN" "center=$B&from=$TODAY&to=$TODAY&phone=$RPHONE" \
    "center = '$B' AND $today_sql AND customer_phone = '$RPHONE'"
state=$(q intake "SELECT state FROM tickets WHERE $mine ORDER BY id LIMIT 1")
both "desk, a state, today, the key phone" "$AS_TOKEN_CENTER" "state=$state&from=$TODAY&phone=$KPHONE" \
    "center = 'SH01' AND state = '$state' AND $today_sql AND customer_phone = '$KPHONE'"
# Whole scopes, today: the console's queue (a centre, a region), 50 a page.
PAGE=50
both "desk's queue today" "$AS_TOKEN_CENTER" "from=$TODAY" "center = 'SH01' AND $today_sql"
both "another centre's queue today" "$AS_TOKEN_CENTER_B" "from=$TODAY" "center = '$B' AND $today_sql"
both "region's queue today" "$AS_TOKEN_REGION" "from=$TODAY" "region = 'east' AND $today_sql"

http GET "/v1/tickets?order=priority&phone=$KPHONE&limit=4" "$AS_TOKEN_CENTER"
t_jq "order=priority: the key customer's tickets carry the tier" '[.tickets[].customer_tier] | unique | join(",")' key
http GET "/v1/tickets?after=T99999999" "$AS_TOKEN_CENTER"
t_status "a cursor naming no ticket is refused" 400
http GET "/v1/tickets?order=priority&phone=$RPHONE&limit=200" "$AS_TOKEN_REVIEWER"
t_jq "a reviewer reads both centres' tickets of the phone" '.tickets | length' 9

# The indexes the lists stand on (migration 440), and the plan of a desk's page uses one.
t_eq "the list indexes exist" "customers_tiered tickets_imei tickets_opened tickets_region_opened tickets_serial tickets_state_opened" \
    "$(q intake "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'intake'
                 AND indexname IN ('tickets_opened', 'tickets_region_opened', 'tickets_state_opened', 'tickets_imei',
                                   'tickets_serial', 'customers_tiered')")"
t_match "an IMEI search is an index lookup" "Index" \
    "$(q intake "SET enable_seqscan = off; EXPLAIN SELECT id FROM tickets t WHERE (t.device->>'imei') = '$IMEI'")"
t_done
