#!/usr/bin/env bash
# intake: erasing a customer (issue 17). POST /v1/customers/{id}/erase — admin only, a reason
# required — replaces the name, phones, address and consent; the tickets and the device history
# keep their ids and states, but the tickets' name and phone are blanked, the events already in
# the outbox lose them, and on the `erased` event surveys blanks its callbacks and ticket links
# and notify its ticket phone, stored events and messages.
# A second erase is 409 already_erased, an erased customer cannot be changed, searches no longer
# find it, and a new ticket with the old phone registers a new customer.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
PHONE=1371$(printf '%07d' $((RUN % 10000000)))
NAME="Erase Me $RUN"
IMEI=$(new_imei)
ticket() { # token request invoice-days-ago [phone]
    http POST /v1/tickets "$1" "$(jq -nc --arg imei "$IMEI" --arg ph "${4:-$PHONE}" --arg n "$NAME" \
        --arg req "$2" --arg inv "$(TZ=Asia/Shanghai date -d "-$3 days" +%F)" '{
      customer: {name: $n, phone: $ph},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: $req}')"
}
wait_sql() { # service SQL EXPECTED — up to 10 s; prints the last value
    local v=""
    for _ in $(seq 1 100); do
        v=$(q "$1" "$2")
        [ "$v" = "$3" ] && break
        sleep 0.1
    done
    printf '%s' "$v"
}

# --- a customer with a closed ticket (a 7-day refund: surveys schedules its callback) ---
ticket "$AS_TOKEN_CENTER" refund 3
t_status "a refund ticket for a new customer" 201
T1=$(jbody .id)
CU=$(jbody .customer_id)
for _ in $(seq 1 50); do
    http GET "/v1/tickets/$T1" "$AS_TOKEN_CENTER"
    [ "$(jbody .state)" != received ] && break
    sleep 0.1
done
http POST "/v1/tickets/$T1/handback" "$AS_TOKEN_CENTER" '{}'
t_jq "the refund is handed back" .state refunded
http PATCH "/v1/customers/$CU" "$AS_TOKEN_CENTER" '{"address":"9 Huaihai Road","consent":{"email":true}}'
t_status "the customer has an address and consent" 200
t_eq "surveys holds the customer's phone for the callback" "$PHONE" \
    "$(wait_sql surveys "SELECT customer_phone FROM callbacks WHERE ticket_id = '$T1'" "$PHONE")"
t_eq "the outbox holds the customer's phone (TicketOpened)" 1 \
    "$(q intake "SELECT (count(*) > 0)::int FROM outbox WHERE payload->>'ticket_id' = '$T1' AND payload::text LIKE '%$PHONE%'")"

# --- refusals change nothing ---
http POST "/v1/customers/$CU/erase" "$AS_TOKEN_CENTER" '{"reason":"asked by the customer"}'
t_status "a centre desk may not erase customers" 403
http POST "/v1/customers/$CU/erase" "$AS_TOKEN_ADMIN" '{}'
t_status "an erase needs a reason" 400
t_match "the refusal names the field" "reason" "$(jbody .error.message)"
http POST "/v1/customers/$CU/erase" "$AS_TOKEN_ADMIN" '{"reason":"   "}'
t_status "a blank reason is no reason" 400
http POST "/v1/customers/CU99999999/erase" "$AS_TOKEN_ADMIN" '{"reason":"x"}'
t_status "an unknown customer is 404" 404
http GET "/v1/customers/$CU" "$AS_TOKEN_ADMIN"
t_eq "nothing changed on a refusal" "$NAME $PHONE" "$(jbody '.name + " " + .phones[0]')"

# --- the erase ---
http POST "/v1/customers/$CU/erase" "$AS_TOKEN_ADMIN" '{"reason":"data subject request 2026-117"}'
t_status "admin erases the customer" 200
t_eq "name, phones, address replaced; consent cleared; marked erased" \
    "$CU erased 0 null false false true" \
    "$(jbody '[.id, .name, (.phones | length), (.address | tostring), (.consent.sms | tostring), (.consent.email | tostring), (.erased_at != null)] | map(tostring) | join(" ")')"
t_eq "the customer keeps its ticket and device" "$T1 $IMEI" "$(jbody '[.tickets[0].id, .devices[0].imei] | join(" ")')"
http POST "/v1/customers/$CU/erase" "$AS_TOKEN_ADMIN" '{"reason":"again"}'
t_status "a second erase is 409" 409
t_jq "naming the state" .error.code already_erased
http PATCH "/v1/customers/$CU" "$AS_TOKEN_ADMIN" '{"name":"Back Again"}'
t_status "an erased customer cannot be updated" 409
t_eq "one audit row, with the reason" "1 data subject request 2026-117" \
    "$(q intake "SELECT count(*) || ' ' || max(detail->>'reason') FROM audit WHERE action = 'erase' AND entity = 'customer' AND entity_id = '$CU'")"
t_eq "intake.CustomerChanged (erased) names the ticket, with no name or phone" "erased $T1 f" \
    "$(q intake "SELECT payload->>'change', payload->'ticket_ids'->>0, (payload::text LIKE '%$PHONE%' OR payload::text LIKE '%$NAME%')
                 FROM outbox WHERE type = 'intake.CustomerChanged' AND payload->>'customer_id' = '$CU'
                 ORDER BY seq DESC LIMIT 1" | tr '|' ' ')"

# --- the ticket and the device keep ids and states; personal fields are gone ---
http GET "/v1/tickets/$T1" "$AS_TOKEN_ADMIN"
t_eq "the ticket keeps its id, state and customer id; name and phone are blanked" \
    "$T1 refunded $CU erased " "$(jbody '[.id, .state, .customer_id, .customer.name, .customer.phone] | join(" ")')"
http GET "/v1/devices/$IMEI" "$AS_TOKEN_ADMIN"
t_eq "the device's history keeps the ticket" "$T1:refunded" "$(jbody '[.history[] | .id + ":" + .state] | join(" ")')"
t_eq "no event in intake's outbox carries the old phone or name" 0 \
    "$(q intake "SELECT count(*) FROM outbox WHERE payload::text LIKE '%$PHONE%' OR payload::text LIKE '%$NAME%'")"
t_eq "no stored command reply carries the old phone" 0 \
    "$(q intake "SELECT count(*) FROM commands WHERE reply::text LIKE '%$PHONE%'")"
t_eq "surveys blanks the callback's name and phone" "0" \
    "$(wait_sql surveys "SELECT count(*) FROM callbacks WHERE ticket_id = '$T1' AND (customer_phone IS NOT NULL OR customer_name IS NOT NULL)" 0)"
t_eq "and its ticket link" "0" \
    "$(wait_sql surveys "SELECT count(*) FROM ticket_customers WHERE ticket_id = '$T1' AND (customer_phone IS NOT NULL OR customer_name IS NOT NULL)" 0)"
t_eq "notify forgets the phone: its ticket, stored events and messages" "0" \
    "$(wait_sql notify "SELECT (SELECT count(*) FROM tickets WHERE ticket_id = '$T1' AND phone IS NOT NULL)
                             + (SELECT count(*) FROM events WHERE payload::text LIKE '%$PHONE%')
                             + (SELECT count(*) FROM notifications WHERE phone LIKE '%$PHONE%')" 0)"

# --- searches no longer find the customer; the old phone is a new customer ---
http GET "/v1/customers?phone=$PHONE" "$AS_TOKEN_ADMIN"
t_eq "not found by the old phone" 0 "$(jbody '.customers | length')"
http GET "/v1/customers?name=$(jq -rn --arg n "$NAME" '$n | @uri')" "$AS_TOKEN_ADMIN"
t_eq "not found by the old name" 0 "$(jbody '.customers | length')"
ticket "$AS_TOKEN_CENTER" repair 20
t_status "a new ticket with the old phone" 201
t_match "registers a NEW customer" '^CU[0-9]{8}$' "$(jbody .customer_id)"
t_eq "not the erased one" 1 "$([ "$(jbody .customer_id)" != "$CU" ] && echo 1)"
http GET "/v1/customers?phone=$PHONE" "$AS_TOKEN_ADMIN"
t_eq "the search finds only the new customer" "$(jbody .customers[0].id 2>/dev/null)" "$(jbody '[.customers[].id] | join(" ")')"

# --- asctl ---
ASCTL=${AS_BIN:-build/bin}/asctl
http POST /v1/customers "$AS_TOKEN_ADMIN" "{\"name\":\"Asctl Erase $RUN\",\"phones\":[\"1372$RUN\"]}"
CU3=$(jbody .id)
t_check "asctl customer erase needs --reason (usage, exit 2)" \
    bash -c "'$ASCTL' --url '$AS_GATEWAY_URL' --token '$AS_TOKEN_ADMIN' customer erase $CU3 >/dev/null 2>&1; [ \$? -eq 2 ]"
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" customer erase "$CU3" --reason "asked by phone")
t_match "asctl customer erase shows the erased record" "erased" "$out"
t_eq "the record is erased" erased "$(q intake "SELECT name FROM customers WHERE id = '$CU3' AND erased_at IS NOT NULL")"

t_done
