#!/usr/bin/env bash
# Warranty: the what-if evaluation over HTTP answers the rulebook's examples exactly as the
# offline evaluator does, refuses a malformed request with the engine's message, and decides
# under the policy in force — a manufacturer promise, the holiday calendar and the fault-code
# table change the answer through the service but not through the statutory offline evaluator.
. "$(dirname "$0")/../lib.sh"

EVAL=${AS_BIN:-build/bin}/as-warranty-eval
offline() { printf '%s\n' "$1" | "$EVAL"; }
# Wait (bounded) until the service decides with the demo policy (loaded after start-up).
for _ in $(seq 1 100); do
    http GET /v1/warranty/policy "$AS_TOKEN_CENTER"
    [ "$(jbody .fault_codes)" != "" ] && [ "$(jbody .fault_codes)" != 0 ] && break
    sleep 0.1
done
t_status "every role may read the policy in force" 200
t_jq "the demo policy version is in force" .in_force true
t_jq "the policy in force has a fault-code table" '.fault_codes > 0' true
t_jq "the policy in force has a holiday calendar" '.holidays > 0' true
t_jq "the policy in force promises Huaxin hosts 6 more months" \
    '[.promises[] | select(.brand == "Huaxin" and .category == "phone_host") | .extra_validity_months] | .[0]' 6

# --- the rulebook's three contract examples (docs/warranty-rules.md#the-contracts-examples) ---
ex1='{"id":"ex-1","category":"phone_host","invoice_date":"2025-04-10","claim_date":"2025-04-17","price_cents":399900,"proofs":{"invoice":true,"warranty_card":true},"fault":{"listed":true},"request":"refund"}'
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$ex1"
t_status "a desk evaluates a request" 200
t_jq "a day-7 refund of a host is granted" .status granted
t_jq "the day-7 remedy is a refund" .remedy refund
t_jq "the day-7 refund is free" .free true
t_jq "the day-7 refund is the full price" .refund_cents 399900
t_jq "the day-7 refund cites M-2 alone" '.rules | join(",")' M-2
t_eq "the answer is the offline evaluator's line, byte for byte" "$(offline "$ex1")" "$HTTP_BODY"

ex2='{"id":"ex-2","category":"phone_battery","invoice_date":"2024-08-31","claim_date":"2025-02-28","price_cents":19900,"proofs":{"invoice":true,"warranty_card":true},"fault":{"listed":true},"request":"exchange"}'
http POST /v1/warranty/evaluate "$AS_TOKEN_REGION" "$ex2"
t_jq "a battery claimed on the clamped month end is inside validity" .status granted
t_jq "the battery is exchanged" .remedy exchange
t_jq "six months from Aug 31 end on Feb 28" .coverage_end 2025-02-28
t_eq "the battery answer matches the offline evaluator" "$(offline "$ex2")" "$HTTP_BODY"

ex3='{"id":"ex-3","category":"phone_host","invoice_date":"2025-04-10","claim_date":"2025-04-13","price_cents":399900,"proofs":{"invoice":true,"warranty_card":true},"fault":{"listed":true},"flags":{"misuse":true},"request":"refund"}'
http POST /v1/warranty/evaluate "$AS_TOKEN_WAREHOUSE" "$ex3"
t_jq "liquid damage on day 3 is not covered" .status not_covered
t_jq "liquid damage leaves a paid repair" '.remedy + "/" + (.free|tostring)' repair/false
t_jq "liquid damage cites E2 alone" '.rules | join(",")' E2
t_eq "the misuse answer matches the offline evaluator" "$(offline "$ex3")" "$HTTP_BODY"

for tok in ADMIN FINANCE REVIEWER CENTER_B; do
    var=AS_TOKEN_$tok
    http POST /v1/warranty/evaluate "${!var}" "$ex1"
    t_status "role $tok may evaluate" 200
done
http POST /v1/warranty/evaluate "" "$ex1"
t_status "evaluation without a token is refused" 401

# --- malformed requests: 400 with the engine's own message ---
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" '{"id":"bad","category":"phone_host","claim_date":"2025-02-30","request":"repair"}'
t_status "an impossible date is refused" 400
t_jq "the refusal carries the engine's message" .error.message \
    "$(offline '{"id":"bad","category":"phone_host","claim_date":"2025-02-30","request":"repair"}' | jq -r .error)"
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" '{"id":"bad2","category":"toaster","claim_date":"2025-02-01","request":"repair"}'
t_status "an unknown category is refused" 400
t_jq "the refusal names the category" '.error.message | test("category")' true
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" '{"id": "broken"'
t_status "a body that is not JSON is refused" 400
t_jq "the refusal says the JSON is invalid" '.error.message | startswith("invalid JSON")' true
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" '[1,2]'
t_status "a body that is not an object is refused" 400
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$(jq -c '. + {colour: "red", desk_note: "x"}' <<<"$ex1")"
t_status "unknown fields are ignored, as the contract says" 200

# --- a manufacturer promise: Huaxin hosts get 12 + 6 months ---
promise=$(jq -c '.id = "promise" | .brand = "Huaxin" | .invoice_date = "2024-03-12" | .claim_date = "2025-06-20" | .request = "repair"' <<<"$ex1")
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$promise"
t_jq "the Huaxin promise ends validity 18 months after the sale" .coverage_end 2025-09-12
t_jq "the Huaxin promise keeps month 15 covered" '.status + "/" + .remedy + "/" + (.free|tostring)' granted/repair/true
t_eq "the offline evaluator (statute only) ends it after 12 months" 2025-03-12 "$(offline "$promise" | jq -r .coverage_end)"
t_eq "the offline evaluator finds month 15 expired" not_covered "$(offline "$promise" | jq -r .status)"
other=$(jq -c '.brand = "OtherBrand"' <<<"$promise")
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$other"
t_jq "a brand without a promise gets the statutory 12 months" .coverage_end 2025-03-12

# --- the holiday calendar: a validity ending on National Day 2025 rolls past the holidays ---
holiday=$(jq -c '.id = "holiday" | .brand = "OtherBrand" | .invoice_date = "2024-10-01" | .claim_date = "2025-10-05" | .request = "repair"' <<<"$ex1")
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$holiday"
t_jq "a validity ending on 2025-10-01 rolls to the day after the holidays" .coverage_end 2025-10-09
t_jq "the rolled validity still covers a claim on 2025-10-05" .status granted
t_jq "the roll is cited as D-3" '.rules | index("D-3") != null' true
t_eq "without the calendar the offline evaluator does not roll" 2025-10-01 "$(offline "$holiday" | jq -r .coverage_end)"
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$(jq -c '.holidays = ["2025-10-09"]' <<<"$holiday")"
t_jq "a request's own holidays add to the calendar" .coverage_end 2025-10-10

# --- the fault-code table decides whether a fault is listed ---
scratch=$(jq -c '.id = "scratch" | .fault = {code: "SCRATCH", listed: true}' <<<"$ex1")
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$scratch"
t_jq "a cosmetic scratch is not a listed fault, whatever the desk ticked" .status denied
t_jq "a non-listed fault leaves only repair" '.entitled | join(",")' repair
t_eq "the offline evaluator without the table trusts the desk" granted "$(offline "$scratch" | jq -r .status)"
nopower=$(jq -c '.id = "nopower" | .fault = {code: "NO_POWER", listed: false}' <<<"$ex1")
http POST /v1/warranty/evaluate "$AS_TOKEN_CENTER" "$nopower"
t_jq "a host that will not power on is a listed fault, whatever the desk ticked" .status granted
t_done
