#!/usr/bin/env bash
# Example 1 — open a repair ticket (POST /v1/tickets) as SH01's front desk: authentication,
# field-level validation errors, a safe retry with Idempotency-Key, the warranty decision that
# follows by itself, and how other roles see the customer's phone.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

IMEI=$(new_imei)
TICKET=$(jq -nc --arg imei "$IMEI" --arg inv "$(days_ago 40)" '{
  customer: {name: "Wang Fang", phone: "13900002222"},
  device:   {category: "phone_host", brand: "Huaxin", model: "HX-10",
             imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
  fault:    {code: "NO_POWER", description: "will not power on", listed: true},
  request:  "repair"}')

# Without a token: 401.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H 'Content-Type: application/json' -d "$TICKET")
expect 401 "no bearer token" '.error.code == "unauthorized"'

# A wrong IMEI check digit: 400, one entry per bad field; nothing is created.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d "$(jq -c '.device.imei = "490154203237519"' <<<"$TICKET")")
expect 400 "an IMEI with a bad check digit is refused, naming the field" \
  '.error.fields | map(.field) | index("device.imei") != null'

# A key the body does not know: 400 (nothing is guessed).
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d "$(jq -c '.colour = "red"' <<<"$TICKET")")
expect 400 "an unknown field is refused" '.error.code == "invalid_field"'

# The real request, with an Idempotency-Key so that it can be retried safely.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: open-$RUN" -d "$TICKET")
expect 201 "the desk opens the ticket (its own centre by default)" \
  '.state == "received" and .center == "SH01" and (.id | startswith("T"))'
ID=$(jq -r .id "$OUT")

# The same request again (a timeout, a double click...): the stored answer, not a second ticket.
status=$(curl -sS -o "$OUT" -D "$HEADERS" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: open-$RUN" -d "$TICKET")
expect 201 "a retry with the same key gets the same ticket" ".id == \"$ID\""
expect_header "Idempotent-Replayed: true" "the retry is marked as a replayed answer"

# The warranty service decides within about a second: poll the ticket.
wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state != "received"'
expect 200 "warranty decided: a free repair under the 三包 rules" \
  '.state == "adjudicated" and .decision.remedy == "repair" and .decision.free == true'

# Lists mask the phone for roles that do not call customers (here the region's manager).
status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/tickets?imei=$IMEI" -H "Authorization: Bearer $AS_TOKEN_REGION")
expect 200 "the region lists it with the phone masked" \
  '.tickets[0].customer.phone == "*******2222"'

# Another centre does not see it at all.
status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/tickets/$ID" -H "Authorization: Bearer $AS_TOKEN_CENTER_B")
expect 404 "GZ01's desk gets 404 for SH01's ticket"
