#!/usr/bin/env bash
# On-site service money (issue 19.3, docs/onsite.md "The travel fee", "Paying a visit's invoice"):
# travel rates are data — finance and admin read and write effective-dated rates per category,
# validated (bad fields 400 naming them, the past 422, other roles 403), and a visit done on a
# day is priced at the rate in force that day; the customer's payment of a ticket-less visit's
# invoice is recorded once (Dr the method's account / Cr 1122, like a hand-back payment), a
# second one 409, the same request again the same answer, and bad input changes nothing.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
# A category with no travel rate from today on: a rate in force is never rewritten, and other
# tests (the price list's, the console's) set some categories' rates from today.
CAT=$(q settlement "SELECT c FROM unnest(ARRAY['phone_data_card', 'phone_charger', 'phone_battery',
                      'phone_terminal_card', 'phone_headset', 'general']) WITH ORDINALITY u(c, n)
                    WHERE NOT EXISTS (SELECT 1 FROM travel_rates r WHERE r.category = u.c
                                        AND r.effective_from >= (now() AT TIME ZONE 'Asia/Shanghai')::date)
                    ORDER BY n LIMIT 1")
[ -n "$CAT" ] || { t_fail "a device category with no travel rate from today on" "all have one"; t_done; exit; }
TECH=tech.money.$RUN
today=$(TZ=Asia/Shanghai date +%F)
yesterday=$(TZ=Asia/Shanghai date -d '-1 day' +%F)
future=$(TZ=Asia/Shanghai date -d '+30 days' +%F)
phone="136$(printf '%04d%04d' $((RANDOM % 10000)) $((RANDOM % 10000)))"
rate_rows() { q settlement "SELECT count(*) FROM travel_rates WHERE category = '$CAT'"; }

# --- travel rates ----------------------------------------------------------------------------------

http GET /v1/settlement/travel-rates "$AS_TOKEN_FINANCE"
t_status "finance reads the travel rates" 200
t_jq "the shipped rate for any category is in force" \
    '[.rates[] | select(.category == "*" and .effective_from == "2000-01-01")][0] | "\(.list_cents_per_km)/\(.claim_cents_per_km)"' 200/150
http POST /v1/settlement/rates/travel "$AS_TOKEN_CENTER" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$today\",\"list_cents_per_km\":300,\"claim_cents_per_km\":250}"
t_status "a centre desk cannot set rates" 403
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" \
    '{"category":"spaceship","effective_from":"someday","list_cents_per_km":-1}'
t_status "bad fields are refused" 400
t_jq "each one named" '[.error.fields[].field] | sort | join(",")' \
    "category,claim_cents_per_km,effective_from,list_cents_per_km"
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$today\",\"list_cents_per_km\":100001,\"claim_cents_per_km\":0}"
t_status "more than 1000 yuan per km is refused" 400
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$yesterday\",\"list_cents_per_km\":300,\"claim_cents_per_km\":250}"
t_status "a rate cannot start in the past" 422
t_jq "the refusal says why" .error.code effective_in_past
t_eq "no rate was written by the refusals" 0 "$(rate_rows)"
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$today\",\"list_cents_per_km\":280,\"claim_cents_per_km\":240}"
t_status "finance sets a rate from today" 201
http GET "/v1/settlement/travel-rates?category=$CAT" "$AS_TOKEN_FINANCE"
t_jq "in force today, with who wrote it" '.rates[0] | "\(.category)/\(.in_force)/\(.created_by | length > 0)"' "$CAT/true/true"
http POST /v1/settlement/rates/travel "$AS_TOKEN_ADMIN" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$today\",\"list_cents_per_km\":300,\"claim_cents_per_km\":250}"
t_status "a rate already in force is never rewritten" 409
t_jq "the refusal says so" .error.code rate_in_force
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" \
    "{\"category\":\"$CAT\",\"effective_from\":\"$future\",\"list_cents_per_km\":900,\"claim_cents_per_km\":800}"
t_status "a rate from a later date" 201
http GET "/v1/settlement/travel-rates?category=$CAT" "$AS_TOKEN_REGION"
t_jq "both rows, newest first; today's in force" '[.rates[] | "\(.effective_from):\(.list_cents_per_km):\(.in_force)"] | join(",")' \
    "$future:900:false,$today:280:true"
http GET "/v1/settlement/travel-rates?category=$CAT&date=$future" "$AS_TOKEN_FINANCE"
t_jq "on the later date the later row is in force" '[.rates[] | select(.in_force)][0].effective_from' "$future"
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" travel-rate list --category "$CAT" 2>&1)
t_match "asctl travel-rate list shows the later row" "$future" "$out"
t_eq "every rate change is audited" 2 \
    "$(q settlement "SELECT count(*) FROM audit WHERE entity = 'travel' AND entity_id LIKE '$CAT/%'")"
later=$(TZ=Asia/Shanghai date -d '+60 days' +%F)
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" travel-rate set --category "$CAT" \
    --from "$later" --list 950 --claim 850 2>&1)
t_eq "asctl travel-rate set writes a row from a later date" "950/850" \
    "$(q settlement "SELECT list_cents_per_km || '/' || claim_cents_per_km FROM travel_rates WHERE category = '$CAT' AND effective_from = '$later'")"

# --- a visit priced at today's rate ---------------------------------------------------------------

staff_account "$TECH" SH01 || t_fail "a staff account for $TECH" "HTTP $HTTP_STATUS $HTTP_BODY"
http POST /v1/technicians "$AS_TOKEN_ADMIN" "{\"login\":\"$TECH\",\"name\":\"Yan Bo\",\"center\":\"SH01\",\"skills\":[\"$CAT\"]}"
t_status "a technician for the category" 201
ws=$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)
we=$(date -u -d '+3 hour' +%Y-%m-%dT%H:00:00Z)
http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(jq -nc --arg p "$phone" --arg c "$CAT" --arg ws "$ws" --arg we "$we" '{
    customer: {name: "Luo Jie", phone: $p}, address: "5 Nanjing Road, Shanghai", category: $c,
    fault: "no sound", window_start: $ws, window_end: $we}')"
t_status "an order without a ticket" 201
O=$(jbody .id)
for step in "schedule {\"technician\":\"$TECH\"}" 'dispatch {}' 'check-in {}' \
    'check-out {"work_done":"cable replaced","distance_km":10}'; do
    http POST "/v1/service-orders/$O/${step%% *}" "$AS_TOKEN_CENTER" "${step#* }"
done
t_jq "done, the customer pays" '"\(.state)/\(.payer)"' done/customer

if wait_http "/v1/settlement/charges/$O" "$AS_TOKEN_FINANCE" .kind onsite; then
    t_ok "settlement charged the visit"
else
    t_fail "settlement charged the visit" "status $HTTP_STATUS body ${HTTP_BODY:0:300}"
fi
t_jq "10 km at today's list rate (280 cents/km)" '[.lines[] | select(.code == "TRAVEL")][0].amount_cents' 2800
total=$(jbody .customer_cents)
invoice=$(jbody .invoice_no)
t_check "an invoice with VAT" test "${total:-0}" -gt 2800

# --- the customer pays the visit's invoice --------------------------------------------------------

pay_entries() { q settlement "SELECT count(*) FROM journal_entries WHERE source_key = 'payment:$O'"; }
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_REVIEWER" '{"method":"cash"}'
t_status "a reviewer records no payment" 403
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_CENTER" '{"method":"bitcoin","reference":"x"}'
t_status "an unknown method is refused" 400
t_jq "naming the field and the methods" '"\(.error.fields[0].field)/\(.error.fields[0].problem | contains("wechat_pay"))"' method/true
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_CENTER" "{\"method\":\"cash\",\"paid_date\":\"$future\"}"
t_status "a payment dated in the future is refused" 422
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_CENTER_B" '{"method":"cash"}'
t_status "another centre's order is not found" 404
http POST "/v1/service-orders/SO99999999/payment" "$AS_TOKEN_FINANCE" '{"method":"cash"}'
t_status "an order without a travel charge is not found" 404
t_eq "nothing was posted by the refusals" 0 "$(pay_entries)"

KEY=pay-$RUN
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_CENTER" '{"method":"wechat_pay","reference":"WX-4200001"}' \
    -H "Idempotency-Key: $KEY"
t_status "the desk records the customer's payment" 201
t_jq "the whole invoice, by WeChat Pay, with its reference" \
    '"\(.invoice_no)/\(.amount_cents)/\(.method)/\(.reference)"' "$invoice/$total/wechat_pay/WX-4200001"
entry=$(jbody .entry_no)
t_eq "posted Dr 1013 (WeChat Pay) / Cr 1122 (receivable)" "1013:$total:0,1122:0:$total" \
    "$(q settlement "SELECT string_agg(account || ':' || debit_cents || ':' || credit_cents, ',' ORDER BY line_no) FROM journal_lines WHERE entry_no = $entry")"
t_eq "the customer's receivable for the visit is settled" 0 \
    "$(q settlement "SELECT sum(debit_cents - credit_cents) FROM journal_lines WHERE account = '1122' AND ticket_id = '$O'")"
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_CENTER" '{"method":"wechat_pay","reference":"WX-4200001"}' \
    -H "Idempotency-Key: $KEY"
t_status "the same request again" 201
t_jq "gets the same answer" .entry_no "$entry"
http POST "/v1/service-orders/$O/payment" "$AS_TOKEN_FINANCE" '{"method":"cash"}'
t_status "a second payment is refused" 409
t_jq "as already paid" .error.code already_paid
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" service-order pay "$O" --method cash 2>&1)
t_match "asctl service-order pay is refused the same way" already_paid "$out"
t_eq "one payment entry" 1 "$(pay_entries)"
http GET "/v1/settlement/invoices/$invoice" "$AS_TOKEN_FINANCE"
t_jq "the invoice shows paid" .paid true
t_eq "the charge set keeps the method and reference" "wechat_pay/WX-4200001" \
    "$(q settlement "SELECT payment_method || '/' || payment_reference FROM charge_sets WHERE ticket_id = '$O'")"
t_eq "the ledger stays balanced" t "$(q settlement "SELECT sum(debit_cents) = sum(credit_cents) FROM journal_lines")"

t_done
