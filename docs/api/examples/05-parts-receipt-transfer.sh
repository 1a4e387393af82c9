#!/usr/bin/env bash
# Example 5 — stock: the warehouse receives goods (one line, then a CSV file that is applied whole
# or not at all), sends two screens to SH01 by transfer, SH01 receives them; stock and the
# ledger show every movement. Another centre sees none of it.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

SKU=EX-$RUN-SCREEN
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/skus" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
  -d '{"sku":"'"$SKU"'","name":"HX-10 screen (example)","brand":"Huaxin","manufacturer":"HUAXIN",
       "compatible_models":["HX-10"],"unit_cost_cents":52000,"list_price_cents":89900,
       "defective_return_required":true}')
expect 201 "the warehouse adds a SKU to the catalogue" '.active == true'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/receipts" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: receipt-line-$RUN" \
  -d '{"site":"WH01","sku":"'"$SKU"'","qty":5,"note":"PO 4711"}')
expect 201 "a goods receipt of one line" '.rows == 1 and .units == 5 and .movements[0].kind == "receipt"'

# A CSV file: header site,sku,qty,note. One bad row and nothing at all is applied.
CSV=$(printf 'site,sku,qty,note\nWH01,%s,3,PO 4712\nWH01,NO-SUCH-%s,1,PO 4712\n' "$SKU" "$RUN")
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/receipts" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg csv "$CSV" '{csv: $csv}')")
expect 400 "a file with an unknown SKU is refused whole, naming the row" \
  '.error.fields[0].field == "csv.row[2].sku"'

CSV=$(printf 'site,sku,qty,note\nWH01,%s,3,PO 4712\nWH01,HX10-BATTERY,2,"PO 4712, urgent"\n' "$SKU")
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/receipts" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: receipt-file-$RUN" \
  -d "$(jq -nc --arg csv "$CSV" '{csv: $csv}')")
expect 201 "a CSV file of two rows is received" '.rows == 2 and .units == 5'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/parts/stock?site=WH01&sku=$SKU" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE")
expect 200 "WH01 holds 8 screens" '.items[0].on_hand == 8 and .items[0].available == 8'

# SH01 asks the warehouse for two: allocated at once (WH01 has them).
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/transfers" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: transfer-$RUN" \
  -d '{"from":"WH01","to":"SH01","lines":[{"sku":"'"$SKU"'","qty":2}],"note":"restock"}')
expect 201 "SH01 requests a transfer; it is allocated at the source" '.state == "allocated"'
TR=$(jq -r .id "$OUT")

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/transfers/$TR/ship" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER")
expect 403 "only the source ships: SH01 may not"

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/transfers/$TR/ship" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H "Idempotency-Key: ship-$RUN")
expect 200 "the warehouse ships (no body needed)" '.state == "shipped"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/parts/transfers/$TR" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER_B")
expect 404 "GZ01 does not see a WH01 -> SH01 transfer"

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/parts/transfers/$TR/receive" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: receive-$RUN" -d '{"note":"2 boxes, sealed"}')
expect 200 "SH01 receives them" '.state == "received"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/parts/stock?sku=$SKU" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE")
expect 200 "stock: 6 at WH01, 2 at SH01" \
  '[.items[] | "\(.site)=\(.on_hand)"] | sort == ["SH01=2", "WH01=6"]'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/parts/movements?sku=$SKU&limit=100" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE")
expect 200 "the ledger tells it, movement by movement" \
  '[.movements[] | "\(.site):\(.kind)"] == ["WH01:receipt", "WH01:receipt", "WH01:reserve", "WH01:transfer_out", "SH01:transfer_in"]'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/parts/movements?site=SH01" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER_B")
expect 403 "GZ01 may not read SH01's ledger"
