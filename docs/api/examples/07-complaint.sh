#!/usr/bin/env bash
# Example 7 — a complaint (投诉): opened by a desk, its severity from the channel, deadlines to
# acknowledge and resolve, then acknowledged, resolved, closed with the follow-up outcome, and
# reopened when the customer calls again. Lists, the overdue list and the report follow.
# shellcheck source=docs/api/examples/_lib.sh
. "$(dirname "$0")/_lib.sh"

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: complaint-$RUN" \
  -d '{"channel":"phone","cause":"overdue","description":"the repair took three weeks",
       "customer_name":"Wang Fang","customer_phone":"13900002222"}')
expect 201 "SH01's desk takes a complaint by phone: general, with deadlines" \
  '.state == "open" and .severity == "general" and .center == "SH01" and ([.deadlines[].kind] | index("acknowledge") != null)'
ID=$(jq -r .id "$OUT")

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/resolve" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"resolution":"fee waived"}')
expect 409 "it cannot be resolved before it is acknowledged" '.error.code == "illegal_transition"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/acknowledge" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"note":"called the customer back"}')
expect 200 "the desk acknowledges it" '.state == "acknowledged"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/severity" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"severity":"serious","note":"the customer called the 12315 hotline"}')
expect 200 "the severity is raised: a written report is now due" \
  '.severity == "serious" and ([.deadlines[].kind] | index("report") != null)'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/severity" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"severity":"general"}')
expect 409 "severity never goes down" '.error.code == "severity_lowered"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/report" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"report":"Cause: the part was backordered for 12 days. Measures: safety stock raised."}')
expect 200 "the written report is filed"

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/resolve" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' -d '{}')
expect 400 "resolving needs the resolution"

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/resolve" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"resolution":"repair fee waived and an apology sent"}')
expect 200 "resolved" '.state == "resolved"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/close" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER" -H 'Content-Type: application/json' \
  -d '{"followup_outcome":"satisfied"}')
expect 200 "closed after the follow-up call" '.state == "closed" and .followup_outcome == "satisfied"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' -X POST "$AS_GATEWAY_URL/v1/complaints/$ID/reopen" \
  -H "Authorization: Bearer $AS_TOKEN_REGION" -H 'Content-Type: application/json' \
  -d '{"reason":"the fault came back"}')
expect 200 "the region's manager reopens it, on fresh deadlines" '.state == "open" and .reopened == 1'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/complaints/$ID" \
  -H "Authorization: Bearer $AS_TOKEN_REVIEWER")
expect 200 "quality reads it with its whole history" '(.history | length) >= 7'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/complaints/$ID" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER_B")
expect 404 "another centre does not see it"

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/complaints?state=open&limit=10" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER")
expect 200 "SH01 lists its open complaints, newest first" ".complaints[0].id == \"$ID\""

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/complaints/overdue" \
  -H "Authorization: Bearer $AS_TOKEN_CENTER")
expect 200 "the overdue list (deadlines passed and not met)" '.complaints | type == "array"'

status=$(curl -sS -o "$OUT" -w '%{http_code}' "$AS_GATEWAY_URL/v1/reports/complaints?group=cause" \
  -H "Authorization: Bearer $AS_TOKEN_ADMIN")
expect 200 "head office's report by cause" '[.rows[] | select(.key == "overdue") | .count] | .[0] >= 1'
