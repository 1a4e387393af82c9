#!/usr/bin/env bash
# Intake: bad input gets a clear, field-level error and changes nothing; a retried POST with the
# same Idempotency-Key returns the first ticket; centres see only their own tickets.
. "$(dirname "$0")/../lib.sh"

base=$(jq -nc --arg inv "$(days_ago 30)" '{
  customer: {name: "Zhao Min", phone: "13700003333"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: "490154203237518"},
  purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
  fault: {code: "NO_SOUND", listed: true}, request: "repair"}')
count_tickets() { # this script's customer only, so other tests' tickets do not matter
    http GET "/v1/tickets?phone=13700003333&limit=200" "$AS_TOKEN_ADMIN"
    jbody '.tickets | length'
}
before=$(count_tickets)

expect_field() { # name body field
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$2"
    if [ "$HTTP_STATUS" = 400 ] && [ "$(jbody "[.error.fields[]?.field] | index(\"$3\") != null")" = true ]; then
        t_ok "$1"
    else
        t_fail "$1" "status $HTTP_STATUS body ${HTTP_BODY:0:400}"
    fi
}
expect_field "an IMEI with a wrong check digit is refused" \
    "$(jq -c '.device.imei = "490154203237519"' <<<"$base")" device.imei
expect_field "a 14-digit IMEI is refused" "$(jq -c '.device.imei = "49015420323751"' <<<"$base")" device.imei
expect_field "a missing customer name is refused" "$(jq -c 'del(.customer.name)' <<<"$base")" customer.name
expect_field "an unknown category is refused" "$(jq -c '.device.category = "toaster"' <<<"$base")" device.category
expect_field "a malformed date is refused" "$(jq -c '.purchase.invoice_date = "2026-02-30"' <<<"$base")" purchase.invoice_date
expect_field "a purchase date in the future is refused" \
    "$(jq -c --arg d "$(TZ=Asia/Shanghai date -d '+3 days' +%F)" '.purchase.invoice_date = $d' <<<"$base")" purchase.invoice_date
expect_field "a purchase after the claim date is refused" \
    "$(jq -c --arg c "$(days_ago 40)" '.claim_date = $c' <<<"$base")" purchase.invoice_date
expect_field "a negative price is refused" "$(jq -c '.purchase.price_cents = -1' <<<"$base")" purchase.price_cents
expect_field "a negative odometer is refused" \
    "$(jq -c '.device.category = "car" | .device.odometer_km = -5 | .fault.car = "other"' <<<"$base")" device.odometer_km
expect_field "an over-long description is refused" \
    "$(jq -c --arg d "$(head -c 3000 /dev/zero | tr '\0' x)" '.fault.description = $d' <<<"$base")" fault.description
expect_field "an unknown request is refused" "$(jq -c '.request = "upgrade"' <<<"$base")" request

http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -c '.colour = "red"' <<<"$base")"
t_status "an unknown field is refused" 400
t_jq "the error names the unknown field" '.error.message | test("colour")' true
http POST /v1/tickets "$AS_TOKEN_CENTER" '{"customer": '
t_status "malformed JSON is refused" 400
t_jq "malformed JSON has its own error code" .error.code malformed_json
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -c '.center = "ZZ99"' <<<"$base")"
t_status "an unknown centre is refused" 422
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -c --arg c "$AS_CENTER_B_CODE" '.center = $c' <<<"$base")"
t_status "a centre cannot open tickets for another centre" 403
http POST /v1/tickets "" "$base"
t_status "no token is 401" 401
http POST /v1/tickets "not-a-token" "$base"
t_status "an unknown token is 401" 401
http POST /v1/tickets "$AS_TOKEN_FINANCE" "$base"
t_status "finance may not open tickets" 403
t_eq "rejected requests created nothing" "$before" "$(count_tickets)"

# The label says another IMEI: recorded as a proof mismatch, not silently accepted.
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -c '.device.imei_label = "356938035643809"' <<<"$base")"
t_status "a ticket with differing IMEIs is accepted for review" 201
t_jq "the mismatch is recorded as a flag" .flags.proof_mismatch true
t_jq "the desk is warned" '.warnings | length > 0' true

# Idempotency-Key: the same POST twice gives one ticket.
key="idem-$RANDOM-$RANDOM"
http POST /v1/tickets "$AS_TOKEN_CENTER" "$base" -H "Idempotency-Key: $key"
t_status "the first keyed POST creates a ticket" 201
first=$(jbody .id)
n1=$(count_tickets)
http POST /v1/tickets "$AS_TOKEN_CENTER" "$base" -H "Idempotency-Key: $key" -D /tmp/as-idem-headers.$$
t_status "the retried POST answers like the first" 201
t_eq "the retried POST returns the first ticket" "$first" "$(jbody .id)"
t_eq "the retried POST created nothing" "$n1" "$(count_tickets)"
t_check "the retried answer is marked as replayed" grep -qi '^Idempotent-Replayed: true' /tmp/as-idem-headers.$$
rm -f /tmp/as-idem-headers.$$

# Scoping: another centre's ticket is invisible.
http GET "/v1/tickets/$first" "$AS_TOKEN_CENTER_B"
t_status "another centre's ticket is 404" 404
http POST "/v1/tickets/$first/cancel" "$AS_TOKEN_CENTER_B" '{"reason":"x"}'
t_status "another centre cannot act on the ticket" 404
http GET "/v1/tickets?limit=200" "$AS_TOKEN_CENTER_B"
t_jq "a centre's list holds only its own tickets" "[.tickets[].center] | map(select(. != \"$AS_CENTER_B_CODE\")) | length" 0
http GET "/v1/tickets/$first" "$AS_TOKEN_REGION"
t_status "the region manager reads the region's tickets" 200
http GET "/v1/tickets?limit=2" "$AS_TOKEN_ADMIN"
next=$(jbody .next)
t_match "a full page has a cursor" '^T[0-9]+$' "$next"
http GET "/v1/tickets?limit=2&after=$next" "$AS_TOKEN_ADMIN"
t_jq "the next page continues after the cursor" "[.tickets[].id] | index(\"$next\") == null" true
http GET "/v1/tickets?imei=490154203237518&state=received&limit=5" "$AS_TOKEN_ADMIN"
t_status "tickets can be filtered by IMEI and state" 200
t_done
