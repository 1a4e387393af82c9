#!/usr/bin/env bash
# Example 3 — the warranty what-if: send the facts of a case, get the decision a ticket would get
# under the policy in force (nothing is recorded). Then read the policy itself.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

# Day 7 after the sale, a listed fault, the customer asks for a refund.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/warranty/evaluate" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"id":"ex-1","category":"phone_host","invoice_date":"2025-04-10","claim_date":"2025-04-17",
       "price_cents":399900,"proofs":{"invoice":true,"warranty_card":true},
       "fault":{"listed":true},"request":"refund"}')
expect 200 "a day-7 refund is granted, in full" \
  '.status == "granted" and .remedy == "refund" and .refund_cents == 399900 and (.rules | index("M-2") != null)'

# Liquid damage: not covered, but a paid repair remains possible.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/warranty/evaluate" \
  -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
  -d '{"id":"ex-3","category":"phone_host","invoice_date":"2025-04-10","claim_date":"2025-04-13",
       "price_cents":399900,"proofs":{"invoice":true,"warranty_card":true},
       "fault":{"listed":true},"flags":{"misuse":true},"request":"refund"}')
expect 200 "misuse is not covered: a paid repair" \
  '.status == "not_covered" and .remedy == "repair" and .free == false'

# A request the engine cannot evaluate: 400 with the engine's message.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/warranty/evaluate" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"id":"bad","category":"phone_host","claim_date":"2025-02-30","request":"repair"}')
expect 400 "an impossible date is refused" '.error.code == "invalid_request"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/warranty/policy" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "the policy in force" '.in_force == true and (.version | length > 0)'
VERSION=$(jq -r .version "$OUT")

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/warranty/policy?version=$VERSION" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 200 "one version by name" ".version == \"$VERSION\""

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/warranty/policy?version=no-such-$RUN" \
  -H "Authorization: Bearer $AS_TOKEN_FINANCE")
expect 404 "an unknown version"

# Publishing a version is for admin only.
status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/warranty/policies" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"version":"desk-try","effective_from":"2030-01-01"}')
expect 403 "a desk may not publish a policy"
