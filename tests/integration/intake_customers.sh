#!/usr/bin/env bash
# intake: customers and the device registry. Opening a ticket registers its customer, or finds
# the returning one by phone (one customer per phone), and records the device with its owner; a
# device's history is its tickets at every centre. /v1/customers is personal data: admin and the
# centre desks only, a desk sees its own centre's customers, every read is audited. Key / VIP
# customers need an account owner, shown on their tickets. Bad input: 400 naming the field, 409
# for a phone of another customer, 404 out of scope.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
PHONE=1370$(printf '%07d' $((RUN % 10000000)))
IMEI=$(new_imei)
ticket() { # token imei [phone]
    http POST /v1/tickets "$1" "$(jq -nc --arg imei "$2" --arg ph "${3:-$PHONE}" \
        --arg inv "$(TZ=Asia/Shanghai date -d '-20 days' +%F)" '{
      customer: {name: "Zhou Xun", phone: $ph},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
}

# --- a ticket registers its customer and device; the returning customer is recognised ---
ticket "$AS_TOKEN_CENTER" "$IMEI"
t_status "a ticket for a new phone" 201
T1=$(jbody .id)
CU=$(jbody .customer_id)
t_match "the ticket links to a new customer record" '^CU[0-9]{8}$' "$CU"
t_eq "a new customer is regular" regular "$(jbody .customer_tier)"
ticket "$AS_TOKEN_CENTER" "$(new_imei)"
t_eq "the same phone again: the same customer (no duplicate)" "$CU" "$(jbody .customer_id)"
T2=$(jbody .id)

http GET "/v1/customers/$CU" "$AS_TOKEN_CENTER"
t_status "the desk reads its customer" 200
t_eq "name and phone" "Zhou Xun $PHONE" "$(jbody '.name + " " + .phones[0]')"
t_eq "both tickets are in the customer's history" "$T1 $T2" "$(jbody '[.tickets[].id] | join(" ")')"
t_eq "both devices are the customer's" 2 "$(jbody '.devices | length')"
t_eq "the read is audited" 1 "$(q intake "SELECT count(*) FROM audit WHERE action = 'read' AND entity = 'customer' AND entity_id = '$CU'")"

http GET "/v1/customers?phone=${PHONE:0:9}" "$AS_TOKEN_CENTER"
t_eq "found by phone prefix" "$CU" "$(jbody "[.customers[] | select(.id == \"$CU\") | .id] | join(\"\")")"
http GET "/v1/customers?name=zhou%20x&limit=200" "$AS_TOKEN_ADMIN"
t_eq "found by name prefix, any case" 1 "$(jbody "[.customers[] | select(.id == \"$CU\")] | length")"
http GET "/v1/customers/$CU/devices" "$AS_TOKEN_CENTER"
t_eq "the devices with their history" "$T1" "$(jbody ".devices[] | select(.imei == \"$IMEI\") | .history[0].id")"

# --- the device registry: history across centres ---
ticket "$AS_TOKEN_CENTER_B" "$IMEI" 1380$(printf '%07d' $((RUN % 10000000)))
t_status "the same device at another centre, with a new owner" 201
T3=$(jbody .id)
CU2=$(jbody .customer_id)
http GET "/v1/devices/$IMEI" "$AS_TOKEN_ADMIN"
t_status "GET /v1/devices/{imei}" 200
t_eq "the history holds both centres' tickets" "$T1:SH01 $T3:GZ01" "$(jbody '[.history[] | .id + ":" + .center] | join(" ")')"
t_eq "the owner is the latest customer" "$CU2" "$(jbody .customer_id)"
http GET "/v1/devices/$IMEI" "$AS_TOKEN_CENTER"
t_status "a centre that repaired the device reads its history" 200
http GET "/v1/devices/$(new_imei)" "$AS_TOKEN_ADMIN"
t_status "an unknown device is 404" 404

# --- role scoping: personal data for admin and the desks of the customer's centre ---
http GET "/v1/customers/$CU" "$AS_TOKEN_CENTER_B"
t_status "another centre's desk gets 404" 404
http GET "/v1/customers/$CU" "$AS_TOKEN_REGION"
t_status "a region manager sees no personal data (403)" 403
http GET "/v1/customers/$CU" "$AS_TOKEN_FINANCE"
t_status "finance sees no personal data (403)" 403
http GET "/v1/customers?phone=$PHONE" "$AS_TOKEN_CENTER_B"
t_eq "another centre's search finds nothing" 0 "$(jbody '.customers | length')"

# --- key customers: an account owner, shown on their tickets ---
http PATCH "/v1/customers/$CU" "$AS_TOKEN_CENTER" '{"tier":"vip"}'
t_status "VIP without an account owner is 400" 400
t_match "the message names the field" account_owner "$(jbody .error.message)"
http PATCH "/v1/customers/$CU" "$AS_TOKEN_CENTER" '{"tier":"gold"}'
t_status "an unknown tier is 400" 400
http PATCH "/v1/customers/$CU" "$AS_TOKEN_CENTER" \
    '{"tier":"vip","account_owner":"Liu Yang","address":"8 Nanjing Road","consent":{"sms":false}}'
t_status "the desk makes the customer VIP with an account owner" 200
t_eq "tier, owner, address, consent" "vip Liu Yang 8 Nanjing Road false" \
    "$(jbody '[.tier, .account_owner, .address, (.consent.sms | tostring)] | join(" ")')"
ticket "$AS_TOKEN_CENTER" "$(new_imei)"
t_eq "a new ticket of the VIP shows tier and account owner" "vip/Liu Yang/$CU" \
    "$(jbody '.customer_tier + "/" + .account_owner + "/" + .customer_id')"
T_VIP=$(jbody .id)
# surveys learns the ticket's tier from intake.CustomerLinked (then TicketOpened) on the stream
for _ in $(seq 1 50); do
    [ "$(q surveys "SELECT count(*) FROM ticket_customers WHERE ticket_id = '$T_VIP'")" = 1 ] && break
    sleep 0.2
done
http POST /v1/complaints "$AS_TOKEN_CENTER" "{\"channel\":\"phone\",\"cause\":\"attitude\",\"description\":\"vip test\",\"ticket_id\":\"$T_VIP\"}"
t_status "a complaint about the VIP's ticket" 201
t_jq "starts one severity higher: serious, not general (phone)" .severity serious
t_jq "so it starts with the centre manager" .level centre_manager
http POST /v1/complaints "$AS_TOKEN_CENTER_B" "{\"channel\":\"phone\",\"cause\":\"attitude\",\"description\":\"regular test\",\"ticket_id\":\"$T3\"}"
t_jq "a regular customer's complaint by phone stays general" .severity general
t_eq "an event announces the change, with no name or phone" "vip false" \
    "$(q intake "SELECT payload->>'tier', (payload ? 'phone' OR payload ? 'name')::text FROM outbox WHERE type = 'intake.CustomerChanged' AND payload->>'customer_id' = '$CU' ORDER BY seq DESC LIMIT 1" | tr '|' ' ')"

# --- registering directly; bad input ---
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"Key Account $RUN\",\"phones\":[\"1360$RUN\"],\"tier\":\"key\",\"account_owner\":\"Ma Li\"}"
t_status "the desk registers a key customer" 201
t_eq "at its own centre" SH01 "$(jbody .center)"
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"Dup\",\"phones\":[\"$PHONE\"]}"
t_status "a phone of another customer is 409" 409
http POST /v1/customers "$AS_TOKEN_CENTER" '{"phones":["13611112222"]}'
t_status "a missing name is 400" 400
t_match "naming the field" "name" "$(jbody .error.message)"
http POST /v1/customers "$AS_TOKEN_CENTER" '{"name":"x","phones":["12ab"]}'
t_status "a malformed phone is 400" 400
http POST /v1/customers "$AS_TOKEN_REGION" '{"name":"x","phones":["13611112222"]}'
t_status "a region manager may not register customers" 403

# --- the same through asctl ---
ASCTL=${AS_BIN:-build/bin}/asctl
ac() { "$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" "$@"; }
out=$(ac customer show "$CU")
t_match "asctl customer show: tier and account owner" "owner +Liu Yang" "$out"
t_match "asctl customer show: consent per channel" "sms=no" "$out"
t_match "asctl customer list --phone finds the customer" "$CU" "$(ac customer list --phone "${PHONE:0:8}" --limit 200)"
out=$(ac customer add --name "Asctl $RUN" --phones "1350$RUN" --tier key --owner "Ma Li" --consent sms=yes,email=no)
t_match "asctl customer add registers a key customer" "tier +key" "$out"
t_match "asctl device show: the history" "$T1" "$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" device show "$IMEI")"
t_check "asctl customer update without an owner for VIP is refused (exit 3)" \
    bash -c "'$ASCTL' --url '$AS_GATEWAY_URL' --token '$AS_TOKEN_CENTER' customer update $CU --tier vip --owner '' >/dev/null 2>&1; [ \$? -eq 3 ]"

# --- key customers first (issue 19.8): GET /v1/tickets?order=priority ---
KPHONE=1361$(printf '%07d' $(((RUN + 7) % 10000000)))
RPHONE=1362$(printf '%07d' $(((RUN + 11) % 10000000)))
http POST /v1/customers "$AS_TOKEN_CENTER" "{\"name\":\"Queue Key $RUN\",\"phones\":[\"$KPHONE\"],\"tier\":\"key\",\"account_owner\":\"Ma Li\"}"
t_status "a key customer for the queue" 201
ticket "$AS_TOKEN_CENTER" "$(new_imei)" "$KPHONE"
TK=$(jbody .id)
ticket "$AS_TOKEN_CENTER" "$(new_imei)" "$RPHONE"
TR=$(jbody .id)
t_eq "the key customer's ticket (priority 1) is older than the regular one (2)" "1 2" \
    "$(q intake "SELECT string_agg(ticket_priority(customer_id)::text, ' ' ORDER BY opened_at, id) FROM tickets WHERE id IN ('$TK', '$TR')")"
http GET "/v1/tickets?limit=200" "$AS_TOKEN_CENTER"
t_jq "by default the queue is newest first: the regular ticket before the key one" \
    "[.tickets[].id] | (index(\"$TR\") < index(\"$TK\"))" true
http GET "/v1/tickets?order=priority&limit=200" "$AS_TOKEN_CENTER"
t_status "order=priority" 200
t_jq "order=priority: the key customer's ticket is listed" "[.tickets[].id] | index(\"$TK\") != null" true
t_jq "order=priority: the key ticket before the newer regular one" \
    "[.tickets[].id] | (index(\"$TR\") == null or index(\"$TK\") < index(\"$TR\"))" true
t_jq "order=priority: VIP, then key, then the others" \
    '[.tickets[] | {"vip": 0, "key": 1}[.customer_tier] // 2] | . == sort' true
http GET "/v1/tickets?order=priority&limit=6" "$AS_TOKEN_CENTER"
six=$(jbody '[.tickets[].id] | join(" ")')
http GET "/v1/tickets?order=priority&limit=3" "$AS_TOKEN_CENTER"
first=$(jbody '[.tickets[].id] | join(" ")')
http GET "/v1/tickets?order=priority&limit=3&after=$(jbody .next)" "$AS_TOKEN_CENTER"
t_eq "order=priority pages with the cursor without loss or repeat" "$six" "$first $(jbody '[.tickets[].id] | join(" ")')"
http GET "/v1/tickets?order=oldest" "$AS_TOKEN_CENTER"
t_status "an unknown order is 400" 400
t_jq "naming the parameter" '.error.message | test("order")' true

t_done
