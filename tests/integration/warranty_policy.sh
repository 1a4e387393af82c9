#!/usr/bin/env bash
# Warranty: policies are versioned data. Every decision records the version it used, and
# re-evaluating a ticket re-runs its stored request under that version with an identical answer.
# A new version (published by an administrator) takes effect at its effective_from without a
# restart: later tickets use it, earlier decisions still re-evaluate under their own version.
. "$(dirname "$0")/../lib.sh"

EVAL=${AS_BIN:-build/bin}/as-warranty-eval
# D-2: the same day-of-month N months later, or that month's last day (GNU date would overflow).
months_after() {
    local y m d t ny nm last
    IFS=- read -r y m d <<<"$1"
    t=$((10#$m - 1 + $2))
    ny=$((10#$y + t / 12))
    nm=$((t % 12 + 1))
    last=$(date -d "$(printf '%04d-%02d-01' "$ny" "$nm") +1 month -1 day" +%d)
    ((10#$d > 10#$last)) && d=$last
    printf '%04d-%02d-%02d' "$ny" "$nm" $((10#$d))
}
inv=$(days_ago 40)
ticket_body() { # brand
    jq -nc --arg imei "$(new_imei 86)" --arg brand "$1" --arg inv "$inv" '{
      customer: {name: "Zhang Wei", phone: "13500003333"},
      device: {category: "phone_host", brand: $brand, model: "M-1", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 259900, invoice: true, warranty_card: true},
      fault: {code: "NO_SOUND", listed: true}, request: "repair"}'
}
open_decided() { # brand -> $TICKET, the decided ticket in HTTP_BODY
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body "$1")"
    TICKET=$(jbody .id)
    wait_decided "$TICKET"
}
http GET /v1/warranty/policy "$AS_TOKEN_CENTER"
before=$(jbody .version)
# The offline evaluator's coverage end for the same facts (statute only: 12 months).
statutory_end=$(jq -nc --arg inv "$inv" --arg c "$(TZ=Asia/Shanghai date +%F)" \
    '{id:"x",category:"phone_host",invoice_date:$inv,claim_date:$c,proofs:{invoice:true},fault:{listed:true},request:"repair"}' |
    "$EVAL" | jq -r .coverage_end)

# --- a promise through a ticket: Huaxin hosts get 6 more months ---
open_decided Huaxin
t_jq "a Huaxin host ticket is decided automatically" .state adjudicated
t_jq "the Huaxin ticket's validity includes the promised 6 months" .decision.coverage_end "$(months_after "$inv" 18)"
t_eq "the statutory offline evaluator gives 12 months" "$(months_after "$inv" 12)" "$statutory_end"
huaxin=$TICKET

open_decided Lumio
t_jq "a Lumio host ticket gets the statutory 12 months" .decision.coverage_end "$(months_after "$inv" 12)"
lumio=$TICKET

# --- re-evaluation reproduces the stored decision ---
http POST "/v1/warranty/decisions/$huaxin/re-evaluate" "$AS_TOKEN_REVIEWER"
t_status "a reviewer re-evaluates a decision" 200
t_jq "the re-evaluation names the recorded policy version" .policy_version "$before"
t_jq "the re-evaluation reproduces the stored decision" .identical true
t_jq "the recomputed decision equals the stored one" '.stored == .recomputed' true
t_jq "the stored decision is the ticket's" .stored.id "$huaxin"
http POST "/v1/warranty/decisions/$huaxin/re-evaluate" "$AS_TOKEN_ADMIN" '{}'
t_status "an administrator re-evaluates a decision" 200
for tok in CENTER REGION WAREHOUSE FINANCE; do
    var=AS_TOKEN_$tok
    http POST "/v1/warranty/decisions/$huaxin/re-evaluate" "${!var}"
    t_status "role $tok may not re-evaluate" 403
done
http POST "/v1/warranty/decisions/T99999999/re-evaluate" "$AS_TOKEN_REVIEWER"
t_status "re-evaluating a ticket without a decision is not found" 404

# --- a new policy version takes effect without a restart ---
ver="it-$(date +%s)-$RANDOM"
from=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
doc=$(jq -nc --arg v "$ver" --arg f "$from" --arg base "$before" '{version: $v, effective_from: $f,
    based_on: $base, description: "integration test: Lumio promises 3 more months",
    promises: [{brand: "Lumio", category: "phone_host", extra_validity_months: 3}]}')
http POST /v1/warranty/policies "$AS_TOKEN_REVIEWER" "$doc"
t_status "a reviewer may not publish a policy" 403
http POST /v1/warranty/policies "$AS_TOKEN_ADMIN" '{"version":"bad version!","effective_from":"2030-01-01"}'
t_status "a malformed policy document is refused" 400
http POST /v1/warranty/policies "$AS_TOKEN_ADMIN" "$(jq -c '.promises[0].extra_validity_months = -3' <<<"$doc")"
t_status "a promise that narrows the statute is refused" 400
http POST /v1/warranty/policies "$AS_TOKEN_ADMIN" "$(jq -c '.based_on = "no-such-version"' <<<"$doc")"
t_status "a policy based on an unknown version is refused" 422
http POST /v1/warranty/policies "$AS_TOKEN_ADMIN" "$doc"
t_status "an administrator publishes a new policy version" 201
t_jq "the new version copies its base's fault codes" '.fault_codes > 0' true
t_jq "the new version keeps its base's promises and adds its own" \
    '[.promises[] | select(.brand == "Lumio" or .brand == "Huaxin")] | length >= 2' true
http POST /v1/warranty/policies "$AS_TOKEN_ADMIN" "$doc"
t_status "a published version cannot be rewritten" 409

now_version=""
for _ in $(seq 1 150); do
    http GET /v1/warranty/policy "$AS_TOKEN_CENTER"
    now_version=$(jbody .version)
    [ "$now_version" = "$ver" ] && break
    sleep 0.1
done
t_eq "the service loads the new version once it takes effect" "$ver" "$now_version"

open_decided Lumio
t_jq "a ticket decided under the new version gets the new promise" .decision.coverage_end "$(months_after "$inv" 15)"
lumio2=$TICKET
http POST "/v1/warranty/decisions/$lumio2/re-evaluate" "$AS_TOKEN_REVIEWER"
t_jq "the new decision records the new version" .policy_version "$ver"
t_jq "the new decision re-evaluates identically" .identical true

http POST "/v1/warranty/decisions/$lumio/re-evaluate" "$AS_TOKEN_REVIEWER"
t_jq "the earlier decision still records the earlier version" .policy_version "$before"
t_jq "the earlier decision re-evaluates identically under its own version" .identical true
t_jq "the earlier decision keeps the statutory 12 months" .recomputed.coverage_end "$(months_after "$inv" 12)"

http GET "/v1/warranty/policy?version=$before" "$AS_TOKEN_CENTER"
t_status "an earlier version can still be read" 200
t_jq "the earlier version is no longer in force" .in_force false
http GET "/v1/warranty/policy?version=nope" "$AS_TOKEN_CENTER"
t_status "an unknown version is not found" 404
t_done
