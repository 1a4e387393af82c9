#!/usr/bin/env bash
# Warranty: decisions a human must confirm wait in the review queue — proof mismatch (IMEI inside
# differs from the label), the same IMEI open at another centre, a large refund, a fault code the
# table does not know. The ticket waits in awaiting_review until a reviewer approves or overrides
# (with a mandatory reason); then it moves to adjudicated with the reviewer's decision in its
# timeline. Only reviewers and administrators work the queue.
. "$(dirname "$0")/../lib.sh"

ticket_body() { # imei request days-ago price [code]
    jq -nc --arg imei "$1" --arg req "$2" --arg inv "$(days_ago "$3")" --argjson price "$4" \
        --arg code "${5:-NO_POWER}" '{
      customer: {name: "Li Lei", phone: "13700001111"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: $price, invoice: true, warranty_card: true},
      fault: {code: $code, listed: true}, request: $req}'
}
# The pending review of ticket $1 (its JSON), from the reviewer's queue.
review_of() {
    http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_REVIEWER"
    jbody ".reviews[] | select(.ticket_id == \"$1\")"
}
# Open a ticket (not in a subshell, so HTTP_STATUS stays); its id lands in $TICKET.
open_ticket() { # token body
    http POST /v1/tickets "$1" "$2"
    TICKET=$(jbody .id)
}

# --- 1. proof mismatch: the IMEI inside differs from the label ---
imei=$(new_imei)
body=$(ticket_body "$imei" repair 30 399900 | jq -c --arg l "$(new_imei)" '.device.imei_label = $l')
open_ticket "$AS_TOKEN_CENTER" "$body"
id=$TICKET
t_status "a ticket with a mismatched IMEI label opens" 201
wait_decided "$id" "$AS_TOKEN_ADMIN"
t_jq "a proof mismatch waits for a reviewer" .state awaiting_review
t_jq "the waiting decision is marked for review" .decision.review true
t_jq "the engine's decision excludes the mismatched card (E5)" '.decision.rules | index("E5") != null' true
rv=$(review_of "$id")
t_eq "the reviewer's queue holds the mismatch" proof_mismatch "$(jq -r '.reasons[0] | split(":")[0]' <<<"$rv")"
rid=$(jq -r .id <<<"$rv")
http GET /v1/warranty/policy "$AS_TOKEN_REVIEWER"
t_eq "the queued review names the policy version in force" "$(jbody .version)" "$(jq -r .policy_version <<<"$rv")"

for tok in CENTER REGION WAREHOUSE FINANCE; do
    var=AS_TOKEN_$tok
    http GET "/v1/warranty/reviews" "${!var}"
    t_status "role $tok may not list the review queue" 403
    http POST "/v1/warranty/reviews/$rid/decision" "${!var}" '{"action":"approve"}'
    t_status "role $tok may not decide a review" 403
done
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" \
    '{"action":"override","status":"granted","remedy":"repair","entitled":["repair"],"free":true}'
t_status "an override without a reason is refused" 400
t_jq "the refusal names the reason field" '.error.fields[0].field' reason
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" \
    '{"action":"override","status":"granted","remedy":"repair","entitled":["repair"],"free":true,"reason":"   "}'
t_status "an override with a blank reason is refused" 400
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" \
    '{"action":"override","status":"denied","remedy":"repair","entitled":["repair"],"free":false,"reason":"x"}'
t_status "an override that contradicts itself is refused" 400
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" '{"action":"maybe"}'
t_status "an unknown action is refused" 400
http GET "/v1/tickets/$id" "$AS_TOKEN_ADMIN"
t_jq "refused decisions leave the ticket waiting" .state awaiting_review

http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" \
    '{"action":"override","status":"granted","remedy":"repair","entitled":["repair"],"free":true,"reason":"label misprinted by the factory; card verified by phone"}'
t_status "a reviewer overrides the decision" 200
t_jq "the review is decided" .status decided
t_jq "the review records the override" .action override
t_jq "the review records who decided" .decided_by reviewer
t_jq "the review records what was published" '.final.status + "/" + .final.remedy' granted/repair
wait_state "$id" adjudicated "$AS_TOKEN_ADMIN"
t_jq "the overridden ticket moves to adjudicated" .state adjudicated
t_jq "the ticket carries the reviewer's decision" '.decision.status + "/" + .decision.remedy + "/" + (.decision.free|tostring)' granted/repair/true
t_jq "the ticket's decision no longer waits for review" .decision.review false
t_jq "the timeline shows the reviewer's decision" \
    '[.timeline[] | select(.event == "warranty_decided" and .to_state == "adjudicated") | .note | test("Reviewer reviewer overrode the decision: label misprinted")] | any' true
t_jq "the timeline went received, awaiting_review, adjudicated" '[.timeline[].to_state] | join(",")' \
    received,awaiting_review,adjudicated
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_ADMIN" '{"action":"approve"}'
t_status "a decided review cannot be decided again" 409
http GET "/v1/warranty/reviews?status=decided&limit=200" "$AS_TOKEN_ADMIN"
t_jq "an administrator sees the decided review" "[.reviews[] | select(.id == $rid)] | length" 1
audit=$(deploy/local/stack.sh psql warranty -XAtq -c "SELECT count(*) FROM audit WHERE action = 'review_override' AND entity_id = '$rid'" 2>/dev/null)
t_eq "the override is audited" 1 "$audit"

# --- 2. duplicate claim: the same IMEI opened at SH01, then at GZ01 ---
imei=$(new_imei)
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$imei" repair 30 399900)"
first=$TICKET
wait_decided "$first" "$AS_TOKEN_ADMIN"
t_jq "the first ticket for a device is decided at once" .state adjudicated
open_ticket "$AS_TOKEN_CENTER_B" "$(ticket_body "$imei" repair 30 399900 | jq -c '.center = "GZ01"')"
second=$TICKET
t_status "the same device opens at another centre" 201
wait_decided "$second" "$AS_TOKEN_ADMIN"
t_jq "the same device open at another centre waits for a reviewer" .state awaiting_review
rv=$(review_of "$second")
t_match "the review names the possible duplicate claim" '^duplicate_claim' "$(jq -r '.reasons | join(";")' <<<"$rv")"
http POST "/v1/warranty/reviews/$(jq -r .id <<<"$rv")/decision" "$AS_TOKEN_REVIEWER" '{"action":"approve","reason":"customer moved; SH01 ticket is being closed"}'
t_status "the reviewer approves the duplicate" 200
wait_state "$second" adjudicated "$AS_TOKEN_ADMIN"
t_jq "the approved ticket moves to adjudicated" .state adjudicated
t_jq "the approved ticket keeps the engine's remedy" '.decision.status + "/" + .decision.remedy' granted/repair
t_jq "the timeline shows the approval" \
    '[.timeline[] | select(.to_state == "adjudicated") | .note | test("Approved by reviewer reviewer")] | any' true

# A cancelled ticket is no longer open: the device may then go to another centre unreviewed.
imei=$(new_imei)
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$imei" repair 30 399900)"
first=$TICKET
wait_decided "$first" "$AS_TOKEN_ADMIN"
http POST "/v1/tickets/$first/cancel" "$AS_TOKEN_CENTER" '{"reason":"customer took it to Guangzhou"}'
t_jq "the SH01 ticket is cancelled" .state cancelled
closed=0
for _ in $(seq 1 100); do
    closed=$(deploy/local/stack.sh psql warranty -XAtq -c "SELECT count(*) FROM device_tickets WHERE ticket_id = '$first' AND NOT open" 2>/dev/null)
    [ "$closed" = 1 ] && break
    sleep 0.1
done
t_eq "warranty follows the cancellation and closes the device's ticket" 1 "$closed"
open_ticket "$AS_TOKEN_CENTER_B" "$(ticket_body "$imei" repair 30 399900 | jq -c '.center = "GZ01"')"
second=$TICKET
wait_decided "$second" "$AS_TOKEN_ADMIN"
t_jq "after the cancellation the other centre's ticket is decided at once" .state adjudicated

# --- 3. a large refund: above review_refund_cents (5000.00 yuan by default) ---
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$(new_imei)" refund 3 899900)"
id=$TICKET
wait_decided "$id" "$AS_TOKEN_ADMIN"
t_jq "a day-3 refund of 8999.00 waits for a reviewer" .state awaiting_review
t_jq "the engine granted the refund" '.decision.status + "/" + .decision.remedy' granted/refund
rv=$(review_of "$id")
t_match "the review names the large refund" 'large_refund' "$(jq -r '.reasons | join(";")' <<<"$rv")"
t_eq "the queued review shows the refund amount" 899900 "$(jq -r .decision.refund_cents <<<"$rv")"
http POST "/v1/warranty/reviews/$(jq -r .id <<<"$rv")/decision" "$AS_TOKEN_ADMIN" '{"action":"approve"}'
t_status "an administrator approves the refund" 200
wait_state "$id" adjudicated "$AS_TOKEN_ADMIN"
t_jq "the approved refund moves to adjudicated" .state adjudicated
t_jq "the approved refund keeps its amount" .decision.refund_cents 899900
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$(new_imei)" refund 3 399900)"
small=$TICKET
wait_decided "$small" "$AS_TOKEN_ADMIN"
t_jq "a refund under the limit is decided without review" .state adjudicated

# A ticket cancelled while it waits: its review is withdrawn and can no longer be decided.
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$(new_imei)" refund 2 899900)"
gone=$TICKET
wait_decided "$gone" "$AS_TOKEN_ADMIN"
t_jq "another large refund waits for a reviewer" .state awaiting_review
rid=$(review_of "$gone" | jq -r .id)
http POST "/v1/tickets/$gone/cancel" "$AS_TOKEN_CENTER" '{"reason":"customer withdrew the claim"}'
t_jq "a ticket waiting for review can be cancelled" .state cancelled
withdrawn=""
for _ in $(seq 1 100); do
    http GET "/v1/warranty/reviews?status=withdrawn&limit=200" "$AS_TOKEN_REVIEWER"
    withdrawn=$(jbody "[.reviews[] | select(.id == $rid)] | length")
    [ "$withdrawn" = 1 ] && break
    sleep 0.1
done
t_eq "the cancelled ticket's review is withdrawn" 1 "$withdrawn"
http POST "/v1/warranty/reviews/$rid/decision" "$AS_TOKEN_REVIEWER" '{"action":"approve"}'
t_status "a withdrawn review cannot be decided" 409

# --- 4. a fault code the table does not know ---
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$(new_imei)" exchange 10 399900 MYSTERY_42)"
id=$TICKET
wait_decided "$id" "$AS_TOKEN_ADMIN"
t_jq "an unknown fault code waits for a reviewer" .state awaiting_review
rv=$(review_of "$id")
t_match "the review names the unknown code" 'unknown_fault_code: fault code MYSTERY_42' "$(jq -r '.reasons | join(";")' <<<"$rv")"
http POST "/v1/warranty/reviews/$(jq -r .id <<<"$rv")/decision" "$AS_TOKEN_REVIEWER" \
    '{"action":"override","status":"denied","remedy":"none","entitled":["repair"],"free":false,"reason":"cosmetic only: not a listed performance fault"}'
t_status "the reviewer overrides the unknown code" 200
wait_state "$id" adjudicated "$AS_TOKEN_ADMIN"
t_jq "the overridden ticket is adjudicated as denied" '.decision.status + "/" + .decision.remedy' denied/none
t_jq "the denial offers repair instead" '.decision.entitled | join(",")' repair
t_jq "the timeline carries the reviewer's reason" \
    '[.timeline[] | select(.to_state == "adjudicated") | .note | test("cosmetic only")] | any' true

http GET "/v1/warranty/reviews?status=pending&limit=0" "$AS_TOKEN_REVIEWER"
t_status "a bad page size is refused" 400
http GET "/v1/warranty/reviews?status=open" "$AS_TOKEN_REVIEWER"
t_status "an unknown queue status is refused" 400
http POST "/v1/warranty/reviews/999999999/decision" "$AS_TOKEN_REVIEWER" '{"action":"approve"}'
t_status "an unknown review is not found" 404
t_done
