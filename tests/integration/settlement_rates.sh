#!/usr/bin/env bash
# The price list (GET /v1/settlement/rates): the rate tables in force on a date — the latest row
# on or before it per key, withdrawn fees left out — readable by the desk roles, with costs and
# claim rates for finance and admin only; a malformed date is 400 and the warehouse 403.
. "$(dirname "$0")/../lib.sh"

# Our own codes (nobody else's data): one labour rate changed once, one fee withdrawn later.
code="L-RT$RANDOM$RANDOM"
fee="F-RT$RANDOM$RANDOM"
q settlement "INSERT INTO labour_rates(labour_code, effective_from, description, list_flat_cents, claim_flat_cents)
              VALUES ('$code', '2021-01-01', 'rate test old', 1000, 700),
                     ('$code', '2022-01-01', 'rate test new', 2000, 1400);
              INSERT INTO fee_rates(fee_code, effective_from, description, list_cents, claim_cents, active)
              VALUES ('$fee', '2021-01-01', 'fee test', 500, 300, true),
                     ('$fee', '2022-01-01', 'fee test', 500, 300, false);" >/dev/null

lab() { jbody "[.labour[] | select(.labour_code == \"$code\")] | map(.list_flat_cents) | join(\",\")"; }
has_fee() { jbody "[.fees[] | select(.fee_code == \"$fee\")] | length"; }

http GET "/v1/settlement/rates?date=2021-06-01" "$AS_TOKEN_CENTER"
t_status "a centre reads the price list of a date" 200
t_eq "the labour rate in force on 2021-06-01 is the first row" 1000 "$(lab)"
t_eq "the fee is in force then" 1 "$(has_fee)"
t_jq "the VAT rate comes with it" .vat_rate_bp 1300
t_eq "a centre does not see the manufacturer claim rate" null "$(jbody "[.labour[] | select(.labour_code == \"$code\")][0].claim_flat_cents")"
t_eq "nor the cost of parts" 0 "$(jbody '[.parts[] | select(has("cost_cents"))] | length')"
t_match "but the parts' list prices" '^[1-9][0-9]*$' "$(jbody '[.parts[] | select(.list_cents > 0)] | length')"

http GET "/v1/settlement/rates?date=2023-01-01" "$AS_TOKEN_FINANCE"
t_status "finance reads it" 200
t_eq "a later date gets the later row only" 2000 "$(lab)"
t_eq "finance sees the claim rate" 1400 "$(jbody "[.labour[] | select(.labour_code == \"$code\")][0].claim_flat_cents")"
t_eq "a fee withdrawn before the date is left out" 0 "$(has_fee)"

http GET "/v1/settlement/rates?date=2020-06-01" "$AS_TOKEN_REGION"
t_status "a region manager reads it" 200
t_eq "before the first row the code has no rate" "" "$(lab)"

http GET "/v1/settlement/rates" "$AS_TOKEN_REVIEWER"
t_status "without a date: today's list" 200
t_match "the answer names today's date" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}$' "$(jbody .date)"
t_eq "today the labour rate is the later row" 2000 "$(lab)"

http GET "/v1/settlement/rates?date=2026-02-30" "$AS_TOKEN_CENTER"
t_status "an impossible date is 400" 400
t_jq "the error names the field" '.error.fields[0].field' date

http GET "/v1/settlement/rates" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse may not read prices" 403
http GET "/v1/settlement/rates"
t_status "no token is 401" 401
t_done
