#!/usr/bin/env bash
# Writing the price list (POST /v1/settlement/rates/{labour,parts,fees,handling,travel}, decision 0032): admin
# and finance add a new version of a row from a date (today or later); the version in force before
# it stays, so charges of earlier business dates keep their price and a repair charged later for
# an earlier date is still priced with the old row. A date in the past, a negative or missing
# amount, an unknown code without a description, an unknown manufacturer or category are refused
# and write nothing; a version in force is never replaced (409), one not yet in force is. Every
# write is audited and published (settlement.RateChanged); a retried request writes once; a new
# brand's manufacturer (people.BrandChanged) may be priced. The desks, the region and the
# warehouse are refused.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
MFR="RW$T" LAB="L-RW$T" SKU="P-RW$T" FEE="F-RW$T"
YESTERDAY=$(TZ=Asia/Shanghai date -d yesterday +%F)
TOMORROW=$(TZ=Asia/Shanghai date -d tomorrow +%F)

out=$(sq <<SQL
INSERT INTO labour_rates VALUES ('$LAB', 'phone_host', '$MFR', '2020-01-01', 'Rate write test', 6000, 0, 4000, 0);
$(no_fees_sql "$MFR")
SQL
)
t_eq "the test's own labour rate is loaded" "" "$out"

rows() { q "SELECT count(*) FROM labour_rates WHERE labour_code = '$LAB'"; }
lab_on() { # DATE — the labour rate of the code in force on DATE, as list/claim
    http GET "/v1/settlement/rates?date=$1" "$AS_TOKEN_FINANCE"
    jbody "[.labour[] | select(.labour_code == \"$LAB\" and .manufacturer == \"$MFR\")][0] | \"\(.list_flat_cents)/\(.claim_flat_cents)\""
}
labour_line() { q "SELECT amount_cents FROM charge_lines WHERE ticket_id = '$1' AND kind = 'labour'"; }
paid_repair() { completed "$(repair_event "$1" SH01 customer "$2" ".manufacturer = \"$MFR\" | .labour_code = \"$LAB\" | .warranty_status = \"denied\"")" >/dev/null; }

# A repair charged before the change, on yesterday's business date: the old price.
K1="RW1-$T" K2="RW2-$T" K3="RW3-$T"
paid_repair "$K1" "$YESTERDAY"
t_eq "a repair charged before the change has the old labour price" 6000 "$(labour_line "$K1")"

body() { printf '{"labour_code":"%s","category":"phone_host","manufacturer":"%s","effective_from":"%s","list_flat_cents":%s,"claim_flat_cents":%s}' "$LAB" "$MFR" "$1" "$2" "$3"; }

# --- who may write ---
for who in CENTER REGION WAREHOUSE REVIEWER; do
    tok="AS_TOKEN_$who"
    http POST /v1/settlement/rates/labour "${!tok}" "$(body "$TODAY" 9900 8800)"
    t_status "the ${who,,} role may not write the price list" 403
done
http POST /v1/settlement/rates/labour "" "$(body "$TODAY" 9900 8800)"
t_status "no token is 401" 401
t_eq "nothing was written by the refused requests" 1 "$(rows)"

# --- bad input: a clear error, nothing written ---
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$YESTERDAY" 9900 8800)"
t_status "a change effective in the past is refused" 422
t_jq "the refusal says why" .error.code effective_in_past
t_jq "and names today as the earliest date" ".error.message | contains(\"$TODAY\")" true
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" -1 8800)"
t_status "a negative price is refused" 400
t_jq "at its field" '.error.fields[0].field + ": " + .error.fields[0].problem' "list_flat_cents: must not be negative"
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "{\"labour_code\":\"$LAB\",\"effective_from\":\"$TODAY\"}"
t_status "a change without its prices is refused" 400
t_jq "naming both missing prices" '[.error.fields[].field] | join(",")' "list_flat_cents,claim_flat_cents"
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "2026-02-30" 9900 8800)"
t_status "an impossible date is refused" 400
t_jq "at its field" '.error.fields[0].field' effective_from
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" 9900 8800 | jq -c '.category = "spaceship"')"
t_status "an unknown device category is refused" 400
t_jq "the error lists the categories" '.error.fields[0].problem | test("\\* \\(any\\) or phone_host")' true
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" 9900 8800 | jq -c ".manufacturer = \"NOPE$T\"")"
t_status "an unknown manufacturer is refused" 422
t_jq "the refusal says why" .error.code unknown_manufacturer
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" 9900 8800 | jq -c ".labour_code = \"L-NEW$T\"")"
t_status "a code new to the price list without a description is refused" 422
t_jq "the refusal says a new code needs a description" '.error.code + ": " + (.error.message | test("needs a description") | tostring)' "unknown_code: true"
t_eq "nothing was written by the bad requests" "1 0" "$(rows) $(q "SELECT count(*) FROM labour_rates WHERE labour_code = 'L-NEW$T'")"

# --- a new version from today; yesterday's stays ---
http POST /v1/settlement/rates/labour "$AS_TOKEN_ADMIN" "$(body "$TODAY" 7500 5000)" -H "Idempotency-Key: rw-$T"
t_status "admin writes a new version from today" 201
t_jq "the answer is the new row" '"\(.labour_code) \(.effective_from) \(.list_flat_cents) \(.claim_flat_cents) \(.description)"' \
    "$LAB $TODAY 7500 5000 Rate write test"
http POST /v1/settlement/rates/labour "$AS_TOKEN_ADMIN" "$(body "$TODAY" 7500 5000)" -H "Idempotency-Key: rw-$T"
t_status "the retried request gets the same answer" 201
t_eq "and writes once: the old version and the new one" 2 "$(rows)"
t_eq "the price list of yesterday still has the old price" "6000/4000" "$(lab_on "$YESTERDAY")"
t_eq "today's has the new one" "7500/5000" "$(lab_on "$TODAY")"
t_eq "the repair charged before keeps its price" 6000 "$(labour_line "$K1")"
paid_repair "$K2" "$YESTERDAY"
paid_repair "$K3" "$TODAY"
t_eq "a repair charged now for yesterday's business date is priced with yesterday's row" 6000 "$(labour_line "$K2")"
t_eq "a repair of today gets the new price" 7500 "$(labour_line "$K3")"
t_eq "the old row is unchanged" "6000 4000 2020-01-01" \
    "$(q "SELECT list_flat_cents || ' ' || claim_flat_cents || ' ' || effective_from FROM labour_rates WHERE labour_code = '$LAB' AND effective_from = '2020-01-01'")"

http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" 1 1)"
t_status "a version in force is never replaced" 409
t_jq "the refusal says why" .error.code rate_in_force
t_eq "today's price is still the one written" "7500/5000" "$(lab_on "$TODAY")"

# --- a version not yet in force may be replaced ---
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TOMORROW" 8000 5200)"
t_status "finance writes a version from tomorrow" 201
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TOMORROW" 8100 5300)"
t_status "and replaces it while it is not in force" 201
t_eq "tomorrow's list has the replacement" "8100/5300" "$(lab_on "$TOMORROW")"
t_eq "today's is unchanged" "7500/5000" "$(lab_on "$TODAY")"
t_eq "three versions in all" 3 "$(rows)"

# --- audit and events ---
t_eq "every write left an audit row with what it held before" "3 1" \
    "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE detail ? 'before') FROM audit
          WHERE action = 'set_rate' AND entity = 'labour' AND entity_id LIKE '$LAB/%'")"
t_eq "the audit row names who wrote it" "finance" \
    "$(q "SELECT principal->>'role' FROM audit WHERE action = 'set_rate' AND entity_id = '$LAB/phone_host/$MFR/$TOMORROW' ORDER BY id DESC LIMIT 1")"
t_eq "every write was published as settlement.RateChanged (the replacement says so)" "3 1" \
    "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE (payload->>'replaced')::boolean) FROM outbox
          WHERE type = 'settlement.RateChanged' AND payload->>'code' = '$LAB'")"

# --- a new code, a part's price, a fee withdrawn ---
http POST /v1/settlement/rates/labour "$AS_TOKEN_FINANCE" "$(body "$TODAY" 1200 900 | jq -c ".labour_code = \"L-NEW$T\" | .category = \"*\" | .manufacturer = \"*\" | .description = \"New work 新工时\" | .list_hour_cents = 6000")"
t_status "a new code with its description is added" 201
t_jq "per hour too" .list_hour_cents 6000
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU\",\"effective_from\":\"$TODAY\",\"list_cents\":5000,\"cost_cents\":3000}"
t_status "a new SKU without a description is refused" 422
t_jq "the refusal names the SKU" ".error.message | contains(\"sku $SKU\")" true
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU\",\"effective_from\":\"$TODAY\",\"description\":\"Test part\",\"manufacturer\":\"$MFR\",\"list_cents\":5000,\"cost_cents\":-3}"
t_status "a negative cost is refused" 400
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU\",\"effective_from\":\"$TODAY\",\"description\":\"Test part\",\"manufacturer\":\"$MFR\",\"list_cents\":5000,\"cost_cents\":3000,\"return_required\":true}"
t_status "a new part price is added" 201
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU\",\"effective_from\":\"$TOMORROW\",\"list_cents\":5500,\"cost_cents\":3100}"
t_status "its next version needs only the prices" 201
t_jq "and keeps the description, maker and return rule" '"\(.description) \(.manufacturer) \(.return_required) \(.warranty_covered)"' "Test part $MFR true true"
http GET "/v1/settlement/rates?date=$TOMORROW" "$AS_TOKEN_CENTER"
t_eq "the desk reads tomorrow's part price (without its cost)" "5500 null" "$(jbody "[.parts[] | select(.sku == \"$SKU\")][0] | \"\(.list_cents) \(.cost_cents)\"")"

fee() { printf '{"fee_code":"%s","effective_from":"%s","description":"Test fee","list_cents":300,"claim_cents":200%s}' "$FEE" "$1" "${2:-}"; }
http POST /v1/settlement/rates/fees "$AS_TOKEN_FINANCE" "$(fee "$TODAY" ',"applies":"sometimes"')"
t_status "a fee that applies neither always nor on visits is refused" 400
t_jq "at its field" '.error.fields[0].field' applies
http POST /v1/settlement/rates/fees "$AS_TOKEN_FINANCE" "$(fee "$TODAY")"
t_status "a new fee is added" 201
http POST /v1/settlement/rates/fees "$AS_TOKEN_FINANCE" "$(fee "$TOMORROW" ',"active":false')"
t_status "and withdrawn from tomorrow" 201
http GET "/v1/settlement/rates?date=$TODAY" "$AS_TOKEN_FINANCE"
t_eq "today the fee is charged" 1 "$(jbody "[.fees[] | select(.fee_code == \"$FEE\")] | length")"
http GET "/v1/settlement/rates?date=$TOMORROW" "$AS_TOKEN_FINANCE"
t_eq "from tomorrow it is not" 0 "$(jbody "[.fees[] | select(.fee_code == \"$FEE\")] | length")"

# --- a new brand's manufacturer may be priced once the people service announces it ---
NEWMFR="NB$T"
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU-B\",\"effective_from\":\"$TODAY\",\"description\":\"New brand part\",\"manufacturer\":\"$NEWMFR\",\"list_cents\":100,\"cost_cents\":50}"
t_status "a manufacturer no brand has is refused" 422
http POST /v1/brands "$AS_TOKEN_ADMIN" "{\"name\":\"Brand$T\",\"manufacturer\":\"$NEWMFR\",\"models\":[\"M1\"]}"
t_status "the administrator adds a brand of that manufacturer" 201
t_poll "settlement learns the brand's manufacturer" 1 q "SELECT count(*) FROM brands WHERE manufacturer = '$NEWMFR'"
http POST /v1/settlement/rates/parts "$AS_TOKEN_FINANCE" "{\"sku\":\"$SKU-B\",\"effective_from\":\"$TODAY\",\"description\":\"New brand part\",\"manufacturer\":\"$NEWMFR\",\"list_cents\":100,\"cost_cents\":50}"
t_status "then its parts may be priced" 201

# --- the claim handling surcharge and the on-site travel rate ---
http POST /v1/settlement/rates/handling "$AS_TOKEN_FINANCE" "{\"manufacturer\":\"$MFR\",\"effective_from\":\"$TODAY\",\"handling_bp\":100001}"
t_status "a handling surcharge above 1000 % is refused" 400
t_jq "at its field" '.error.fields[0].field' handling_bp
http POST /v1/settlement/rates/handling "$AS_TOKEN_FINANCE" "{\"manufacturer\":\"$MFR\",\"effective_from\":\"$TODAY\",\"handling_bp\":1200}"
t_status "a manufacturer's claim handling is set from today" 201
http POST /v1/settlement/rates/handling "$AS_TOKEN_CENTER" "{\"manufacturer\":\"$MFR\",\"effective_from\":\"$TOMORROW\",\"handling_bp\":1300}"
t_status "not by the desk" 403
http GET "/v1/settlement/rates?date=$TODAY" "$AS_TOKEN_FINANCE"
t_eq "finance reads it in the price list" 1200 "$(jbody "[.handling[] | select(.manufacturer == \"$MFR\")][0].handling_bp")"
http GET "/v1/settlement/rates?date=$TODAY" "$AS_TOKEN_CENTER"
t_jq "the desk does not see handling surcharges" '(.handling // []) | length' 0
http POST /v1/settlement/rates/travel "$AS_TOKEN_FINANCE" "{\"category\":\"phone_headset\",\"effective_from\":\"$TODAY\",\"list_cents_per_km\":250}"
t_status "a travel rate without its claim rate is refused" 400
t_jq "naming it" '.error.fields[0].field' claim_cents_per_km
http POST /v1/settlement/rates/travel "$AS_TOKEN_ADMIN" "{\"category\":\"phone_headset\",\"effective_from\":\"$TODAY\",\"list_cents_per_km\":250,\"claim_cents_per_km\":180}"
t_status "the administrator sets a travel rate for a category from today" 201
http GET "/v1/settlement/rates?date=$TODAY" "$AS_TOKEN_CENTER"
t_eq "the desk reads its list rate, without the claim rate" "250 null" \
    "$(jbody '[.travel[] | select(.category == "phone_headset")][0] | "\(.list_cents_per_km) \(.claim_cents_per_km)"')"
t_eq "the onsite fee's rate lookup uses it" "250" "$(q "SELECT list_cents_per_km FROM travel_rate('phone_headset', '$TODAY'::date)")"
t_eq "yesterday's travel rate for the category is still the one before" "200" "$(q "SELECT list_cents_per_km FROM travel_rate('phone_headset', '$YESTERDAY'::date)")"

t_ledger_balanced "the ledger balances"
t_done
