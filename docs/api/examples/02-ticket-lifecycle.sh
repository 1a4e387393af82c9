#!/usr/bin/env bash
# Example 2 — walk a warranty repair through its whole life: opened, decided by warranty,
# diagnosed (the part it names requested in the same step) and reserved by the parts service,
# repaired, handed back. Each
# transition is one POST; one from the wrong state is 409 and changes nothing.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

IMEI=$(new_imei)
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: life-open-$RUN" \
  -d "$(jq -nc --arg imei "$IMEI" --arg inv "$(days_ago 40)" '{
        customer: {name: "Li Lei", phone: "13700001111"},
        device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
        purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
        fault: {code: "NO_CHARGE", description: "does not charge", listed: true},
        request: "repair"}')")
expect 201 "open the ticket" '.state == "received"'
ID=$(jq -r .id "$OUT")

wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state == "adjudicated"'
expect 200 "warranty decides: covered, free repair" '.decision.free == true'

# Hand-back is only for a ready ticket (or a granted refund/exchange).
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/handback" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' -d '{}')
expect 409 "hand-back before the repair is refused, naming the state" \
  '.error.code == "illegal_transition" and (.error.message | test("is adjudicated"))'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/diagnosis" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: life-diag-$RUN" \
  -d '{"fault_code":"NO_CHARGE","labour_code":"L-PORT","parts":[{"sku":"HX10-CHGPORT","qty":1}],"promised_date":"'"$TODAY"'"}')
expect 200 "diagnosis names the charging port: it is requested in the same step" \
  '.state == "awaiting_parts" and .work.requested[0].line_no == 1 and .work.requested[0].sku == "HX10-CHGPORT"'

# SH01 has the part in stock: the parts service reserves it and the ticket resumes.
wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state == "in_repair"'
expect 200 "the part is reserved, the repair goes on" '.work.requested[0].status == "reserved"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/repair-complete" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: life-done-$RUN" \
  -d '{"parts_used":[{"sku":"HX10-CHGPORT","qty":1}],"labour_code":"L-PORT","labour_minutes":30,"cause":"manufacturing_quality"}')
expect 200 "the repair is complete" '.state == "ready"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/handback" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: life-back-$RUN" -d '{"note":"customer satisfied"}')
expect 200 "the phone is handed back: closed" '.state == "closed" and .work.outcome == "repaired"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/tickets/$ID" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER")
expect 200 "the timeline tells the whole story" \
  '[.timeline[].to_state] | index("closed") != null and index("awaiting_parts") != null'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets/$ID/cancel" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"reason":"too late"}')
expect 409 "a closed ticket cannot be cancelled"
