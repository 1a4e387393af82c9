#!/usr/bin/env bash
# Example 4 — the manual-review queue. A ticket whose IMEI inside the phone differs from the one
# on its warranty card cannot be decided by the engine alone: it waits in `awaiting_review`
# until a reviewer approves the engine's decision or overrides it (with a reason).
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

IMEI=$(new_imei)
LABEL=$(new_imei)
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/tickets" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: review-open-$RUN" \
  -d "$(jq -nc --arg imei "$IMEI" --arg lbl "$LABEL" --arg inv "$(days_ago 30)" '{
        customer: {name: "Chen Jie", phone: "13600004444"},
        device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $lbl},
        purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
        fault: {code: "NO_DISPLAY", description: "screen stays black", listed: true},
        request: "repair"}')")
expect 201 "a desk opens a ticket whose IMEI label does not match the device"
ID=$(jq -r .id "$OUT")

wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state == "awaiting_review"'
expect 200 "the ticket waits for a reviewer" '.decision.review == true'

# The queue is for reviewers (and admin) only.
status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/warranty/reviews" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER")
expect 403 "a desk may not read the review queue"

status=$(curl -sS -o "$OUT" -w '%{http_code}' \
  "$AS_GATEWAY_URL/v1/warranty/reviews?status=pending&limit=200" \
  -H "Authorization: Bearer $AS_TOKEN_REVIEWER")
expect 200 "the reviewer's queue holds the ticket, with the reason" \
  "[.reviews[] | select(.ticket_id == \"$ID\") | .reasons[0] | startswith(\"proof_mismatch\")] == [true]"
REVIEW=$(jq -r ".reviews[] | select(.ticket_id == \"$ID\") | .id" "$OUT")
# More than `limit` pending reviews? Page with ?after=<next> until `next` is absent.

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST \
  "$AS_GATEWAY_URL/v1/warranty/reviews/$REVIEW/decision" \
  -H "Authorization: Bearer $AS_TOKEN_REVIEWER" -H 'Content-Type: application/json' \
  -d '{"action":"override","status":"granted","remedy":"repair","entitled":["repair"],"free":true}')
expect 400 "an override needs a reason" '.error.fields[0].field == "reason"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST \
  "$AS_GATEWAY_URL/v1/warranty/reviews/$REVIEW/decision" \
  -H "Authorization: Bearer $AS_TOKEN_REVIEWER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: review-decide-$RUN" \
  -d '{"action":"override","status":"granted","remedy":"repair","entitled":["repair"],"free":true,
       "reason":"label misprinted by the factory; card verified by phone"}')
expect 200 "the reviewer overrides: a free repair" \
  '.status == "decided" and .action == "override" and .final.remedy == "repair"'

wait_answer "/v1/tickets/$ID" "$AS_TOKEN_CENTER" '.state == "adjudicated"'
expect 200 "the ticket moves on with the reviewer's decision" \
  '.decision.review == false and .decision.free == true'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST \
  "$AS_GATEWAY_URL/v1/warranty/reviews/$REVIEW/decision" \
  -H "Authorization: Bearer $AS_TOKEN_ADMIN" -H 'Content-Type: application/json' \
  -d '{"action":"approve"}')
expect 409 "a decided review cannot be decided again"

# Re-run the ticket's stored request under the policy version recorded with it.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST \
  "$AS_GATEWAY_URL/v1/warranty/decisions/$ID/re-evaluate" \
  -H "Authorization: Bearer $AS_TOKEN_REVIEWER")
expect 200 "re-evaluation gives the engine's answer again" '.identical == true'
