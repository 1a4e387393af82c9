#!/usr/bin/env bash
# Key customers first in dispatch (issue 19.8, docs/onsite.md "Dispatch order"): the list of
# service orders to dispatch (GET /v1/service-orders?order=priority) and the technicians' workload
# view (its orders still to assign, and each technician's orders) put VIP customers' orders first,
# then key customers', then the rest — and within a tier the response promise (respond_by)
# first. An order's tier is its customer's (the linked ticket's customer, else by phone).
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
day=$(TZ=Asia/Shanghai date -d '+6 days' +%F)
TECH=tech.prio.$RUN
ph() { printf '135%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)); }
pV=$(ph) pK=$(ph) pR=$(ph)

customer() { # phone name tier
    http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"$2\",\"phones\":[\"$1\"]}"
    local id
    id=$(jbody .id)
    [ "$3" = regular ] || http PATCH "/v1/customers/$id" "$AS_TOKEN_CENTER" "{\"tier\":\"$3\",\"account_owner\":\"Liu Yang\"}"
}
customer "$pV" "Wei Da" vip
t_jq "a VIP customer" .tier vip
customer "$pK" "Kong Li" key
t_jq "a key customer" .tier key

order() { # phone -> id (the window on $day; each order's respond_by later than the one before)
    http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$1" --arg d "$day" '{
        customer: {name: "Some One", phone: $p}, address: "1 Century Avenue, Shanghai",
        category: "general", fault: "the washer leaks", window_start: ($d + "T01:00:00Z"),
        window_end: ($d + "T05:00:00Z")}')"
    jbody .id
}
R1=$(order "$pR")
K1=$(order "$pK")
V1=$(order "$pV")
R2=$(order "$pR")
K2=$(order "$pK")
mine() { jq -r --arg ids " $R1 $K1 $V1 $R2 $K2 " "$1 | map(. as \$x | select(\$ids | contains(\" \" + \$x + \" \"))) | join(\",\")"; }

http GET "/v1/service-orders/$V1" "$AS_TOKEN_CENTER"
t_jq "the order carries its customer's tier" .customer_tier vip
http GET "/v1/service-orders/$R1" "$AS_TOKEN_CENTER"
t_jq "a customer without a record is regular" .customer_tier regular

http GET "/v1/service-orders?date=$day&center=SH01&limit=200" "$AS_TOKEN_CENTER"
t_eq "by default newest first" "$K2,$R2,$V1,$K1,$R1" "$(mine '[.orders[].id]' <<<"$HTTP_BODY")"
http GET "/v1/service-orders?date=$day&center=SH01&order=priority&limit=200" "$AS_TOKEN_CENTER"
t_status "the dispatch list" 200
t_eq "VIP first, then key, then the rest; within a tier the earliest promise" \
    "$V1,$K1,$K2,$R1,$R2" "$(mine '[.orders[].id]' <<<"$HTTP_BODY")"
t_jq "one page, no cursor" '.next // "none"' none
http GET "/v1/service-orders?date=$day&order=loudest" "$AS_TOKEN_CENTER"
t_status "an unknown order is refused" 400
http GET "/v1/service-orders?order=priority&after=$R1" "$AS_TOKEN_CENTER"
t_status "the priority order takes no cursor" 400

http GET "/v1/technicians/workload?date=$day&center=SH01" "$AS_TOKEN_CENTER"
t_status "the workload view" 200
t_eq "its orders to assign in dispatch order" "$V1,$K1,$K2,$R1,$R2" "$(mine '[.to_assign[].id]' <<<"$HTTP_BODY")"
t_jq "each with its tier" "[.to_assign[] | select(.id == \"$K1\")][0].customer_tier" key

staff_account "$TECH" SH01 || t_fail "a staff account for $TECH" "HTTP $HTTP_STATUS $HTTP_BODY"
http POST /v1/technicians "$AS_TOKEN_ADMIN" "{\"login\":\"$TECH\",\"name\":\"Fan Yu\",\"center\":\"SH01\",\"skills\":[\"general\"]}"
t_status "a technician" 201
for id in "$R2" "$R1" "$K2" "$V1" "$K1"; do
    http POST "/v1/service-orders/$id/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$TECH\"}"
done
t_status "all five given to him" 200
http GET "/v1/technicians/workload?date=$day&center=SH01" "$AS_TOKEN_CENTER"
t_eq "his orders in dispatch order too" "$V1,$K1,$K2,$R1,$R2" \
    "$(jq -r --arg t "$TECH" '[.rows[] | select(.login == $t)][0].order_ids | join(",")' <<<"$HTTP_BODY")"
t_eq "none left to assign" "" "$(mine '[.to_assign[].id]' <<<"$HTTP_BODY")"

t_done
