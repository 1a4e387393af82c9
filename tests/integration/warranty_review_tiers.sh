#!/usr/bin/env bash
# The customer's tier in the warranty review queue (issue 17, point 4): each review shows its
# ticket's customer tier, and the queue lists VIP customers first, then key accounts, then the
# others (oldest first within each), on one page and across pages of the cursor. warranty learns
# the tier from intake's stream: CustomerLinked when the ticket opens, CustomerChanged when the
# desk changes the customer's tier later — a tier taken back moves the review back.
. "$(dirname "$0")/../lib.sh"

run=$((RANDOM % 9000 + 1000))
ticket_body() { # name phone
    jq -nc --arg name "$1" --arg phone "$2" --arg imei "$(new_imei)" --arg inv "$(days_ago 10)" '{
      customer: {name: $name, phone: $phone},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "MYSTERY_TIER", listed: true}, request: "exchange"}'
}
declare -A TICKET CUSTOMER
# Three customers, each with a ticket whose unknown fault code sends it to review: opened in the
# order regular, key, VIP, so that by age alone the regular one would come first.
for who in regular key vip; do
    case $who in regular) n=1 ;; key) n=2 ;; vip) n=3 ;; esac
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body "Tier $who" "1390${run}00$n")"
    t_status "the $who customer's ticket opens" 201
    TICKET[$who]=$(jbody .id)
    CUSTOMER[$who]=$(jbody .customer_id)
done
http PATCH "/v1/customers/${CUSTOMER[key]}" "$AS_TOKEN_CENTER" '{"tier":"key","account_owner":"Zhao Min"}'
t_status "the desk makes one customer a key account" 200
http PATCH "/v1/customers/${CUSTOMER[vip]}" "$AS_TOKEN_CENTER" '{"tier":"vip","account_owner":"Zhao Min"}'
t_status "... and another a VIP" 200

# tier_of WHO — the tier the pending queue shows on WHO's review ("" while it is not there).
tier_of() {
    http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_REVIEWER"
    jbody ".reviews[] | select(.ticket_id == \"${TICKET[$1]}\") | .customer_tier"
}
t_poll "the regular customer's review shows the tier regular" regular tier_of regular
t_poll "the key account's review shows the tier key" key tier_of key
t_poll "the VIP's review shows the tier vip" vip tier_of vip

# order — the three tickets' tiers in the order the queue lists them (one page).
order() {
    http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_REVIEWER"
    jbody "[.reviews[] | select(.ticket_id == \"${TICKET[regular]}\" or .ticket_id == \"${TICKET[key]}\" or .ticket_id == \"${TICKET[vip]}\") | .customer_tier] | join(\" \")"
}
t_eq "the queue lists the VIP first, then the key account, then the regular customer" \
    "vip key regular" "$(order)"
http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_REVIEWER"
t_eq "no regular review comes before a key or VIP one anywhere in the queue" "" \
    "$(jbody '[.reviews[].customer_tier] | map(if . == "vip" then 0 elif . == "key" then 1 else 2 end) as $r | [range(1; $r | length) | select($r[.] < $r[. - 1])] | map(tostring) | join(",")')"
all=$(jbody '[.reviews[].id] | map(tostring) | join(" ")')

# The cursor: pages of two give the same queue in the same order.
paged=() after="" pages=0
while [ $pages -lt 200 ]; do
    http GET "/v1/warranty/reviews?status=pending&limit=2${after:+&after=$after}" "$AS_TOKEN_REVIEWER"
    [ "$HTTP_STATUS" = 200 ] || break
    read -ra ids <<<"$(jbody '[.reviews[].id] | map(tostring) | join(" ")')"
    paged+=("${ids[@]}")
    after=$(jbody '.next // empty')
    pages=$((pages + 1))
    [ -n "$after" ] || break
done
t_eq "paging with the cursor gives the same queue in the same order" "$all" "${paged[*]}"

# A tier taken back (CustomerChanged): the review moves back among the others.
http PATCH "/v1/customers/${CUSTOMER[vip]}" "$AS_TOKEN_CENTER" '{"tier":"regular"}'
t_status "the desk takes the VIP tier back" 200
t_poll "the review follows: tier regular" regular tier_of vip
t_eq "... and it is now listed after the key account and the older regular one" \
    "key regular regular" "$(order)"
http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_REVIEWER"
t_eq "... in that order by ticket" "${TICKET[key]} ${TICKET[regular]} ${TICKET[vip]}" \
    "$(jbody "[.reviews[] | select(.ticket_id == \"${TICKET[regular]}\" or .ticket_id == \"${TICKET[key]}\" or .ticket_id == \"${TICKET[vip]}\") | .ticket_id] | join(\" \")")"

# The reviewer sees the tier on the review it decides.
rid=$(jbody ".reviews[] | select(.ticket_id == \"${TICKET[key]}\") | .id")
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" '{"action":"approve","reason":"checked"}'
t_status "the reviewer approves the key account's review" 200
t_jq "... whose answer shows the tier" .customer_tier key

t_done
