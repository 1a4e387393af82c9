#!/usr/bin/env bash
# Intake: rewards for past periods (issue 19.5, docs/scorecard.md "Backfill"). POST
# /v1/reports/scorecard/rewards/backfill {from_month, to_month} computes the market-maintenance
# reward of every closed calendar month in the range as the monthly reward would, and posts each
# once: a second run posts nothing (already_posted), settlement books each reward once, and a
# dry run recomputes without writing. Open months, bad months, too long a range and other roles
# are refused with nothing written.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
REGION=bf$RUN
C=BFC-$RUN
day() { TZ=Asia/Shanghai date -d "$1" +%F; }
today=$(day today)
m0=$(TZ=Asia/Shanghai date +%Y-%m)
m1=$(TZ=Asia/Shanghai date -d "$(date +%Y-%m-15) -1 month" +%Y-%m)
m2=$(TZ=Asia/Shanghai date -d "$(date +%Y-%m-15) -2 month" +%Y-%m)
m3=$(TZ=Asia/Shanghai date -d "$(date +%Y-%m-15) -3 month" +%Y-%m)
until_status() {
    local want=$1 i
    shift
    for i in $(seq 1 50); do
        http "$@"
        [ "$HTTP_STATUS" = "$want" ] && return 0
        sleep 0.2
    done
}
repair() { # centre -> ticket id: a covered repair to the hand-back
    local imei id
    imei=$(new_imei)
    until_status 201 POST /v1/tickets "$AS_TOKEN_ADMIN" "$(jq -nc --arg c "$1" --arg imei "$imei" --arg inv "$(day '-40 days')" '{
      center: $c, customer: {name: "Zhao Min", phone: "13700004444"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_DISPLAY", listed: true}, request: "repair"}')"
    id=$(jbody .id)
    wait_http "/v1/tickets/$id" "$AS_TOKEN_ADMIN" '.state != "received"' true >/dev/null
    http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_ADMIN" '{"fault_code":"NO_DISPLAY","labour_code":"L-GENERAL"}'
    http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_ADMIN" \
        '{"parts_used":[],"labour_code":"L-GENERAL","labour_minutes":30,"cause":"manufacturing_quality"}'
    http POST "/v1/tickets/$id/handback" "$AS_TOKEN_ADMIN" '{}'
    echo "$id"
}
backfill() { http POST /v1/reports/scorecard/rewards/backfill "${2:-$AS_TOKEN_ADMIN}" "$1"; }
rewards_rows() { q intake "SELECT count(*) FROM scorecard_rewards WHERE center = '$C'"; }

http POST /v1/regions "$AS_TOKEN_ADMIN" "{\"code\":\"$REGION\",\"name\":\"Backfill test $RUN\"}"
t_status "a fresh region" 201
http POST /v1/centers "$AS_TOKEN_ADMIN" "{\"code\":\"$C\",\"name\":\"Backfill $C\",\"region\":\"$REGION\"}"
t_status "a fresh centre" 201
T=$(repair "$C")
t_eq "a repair handed back" closed "$(q intake "SELECT state FROM tickets WHERE id = '$T'")"

# The repair happened in the month before last: its records are dated back there.
target=$(day "$m2-10")
shift_days=$(( ($(date -d "$today" +%s) - $(date -d "$target" +%s)) / 86400 ))
sql intake "UPDATE tickets SET opened_at = opened_at - interval '$shift_days days',
                promised_at = promised_at - interval '$shift_days days',
                promise_met_at = promise_met_at - interval '$shift_days days' WHERE id = '$T';
            UPDATE device_repairs SET dropped_off = dropped_off - $shift_days, returned = returned - $shift_days
            WHERE ticket_id = '$T'" >/dev/null
http GET "/v1/reports/scorecard?from=$m2-01&to=$(day "$m2-01 +1 month -1 day")&center=$C" "$AS_TOKEN_ADMIN"
t_jq "the centre is scored for that month" '.rows[0].repaired' 1

# --- refusals, nothing written ---------------------------------------------------------------------

backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m0\",\"region\":\"$REGION\"}"
t_status "the current month is not over" 409
t_jq "period_open" .error.code period_open
backfill '{"from_month":"2026-13","to_month":"last"}'
t_status "bad months are refused" 400
t_jq "each named" '[.error.fields[].field] | sort | join(",")' from_month,to_month
backfill "{\"from_month\":\"2020-01\",\"to_month\":\"$m1\",\"region\":\"$REGION\"}"
t_status "more than 36 months at a time is refused" 400
backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m1\",\"region\":\"$REGION\"}" "$AS_TOKEN_FINANCE"
t_status "finance cannot post rewards" 403
backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m1\",\"region\":\"nowhere$RUN\"}"
t_status "an unknown region" 422
t_eq "no reward was written by the refusals" 0 "$(rewards_rows)"

# --- a dry run recomputes, writes nothing -------------------------------------------------------------

backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m1\",\"region\":\"$REGION\",\"dry_run\":true}"
t_status "a dry run" 200
t_jq "three months, one reward computed, none posted" \
    '"\(.periods | length)/\(.computed)/\(.posted)/\(.dry_run)"' 3/1/0/true
amount=$(jbody "[.periods[] | select(.from == \"$m2-01\")][0].rewards[0].amount_cents")
t_check "the month's reward is above zero" test "${amount:-0}" -gt 0
t_eq "nothing written" 0 "$(rewards_rows)"

# --- the backfill posts each month once -----------------------------------------------------------

backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m1\",\"region\":\"$REGION\"}"
t_status "the backfill" 200
t_jq "one reward posted, for the month before last" \
    '"\(.posted)/\(.already_posted)/\([.periods[] | select(.rewards | length > 0) | .from] | join(","))"' "1/0/$m2-01"
t_jq "the posted amount is the dry run's" "[.periods[] | select(.from == \"$m2-01\")][0].rewards[0].amount_cents" "$amount"
RW=$(jbody "[.periods[] | select(.from == \"$m2-01\")][0].rewards[0].id")
t_eq "one reward row for the month" "1/$m2-01" \
    "$(q intake "SELECT count(*) || '/' || min(period_from) FROM scorecard_rewards WHERE center = '$C'")"
t_poll "settlement books it: Dr 6604 / Cr 2243" "$amount/$amount" \
    q settlement "SELECT sum(l.debit_cents) FILTER (WHERE l.account = '6604') || '/' || sum(l.credit_cents) FILTER (WHERE l.account = '2243') FROM journal_entries e JOIN journal_lines l USING (entry_no) WHERE e.source_key = 'center-reward:$RW'"

backfill "{\"from_month\":\"$m3\",\"to_month\":\"$m1\",\"region\":\"$REGION\"}"
t_status "the same backfill again" 200
t_jq "posts nothing: the month is already posted" '"\(.posted)/\(.already_posted)"' 0/1
t_jq "answering the same reward" "[.periods[] | select(.from == \"$m2-01\")][0].rewards[0] | \"\(.id)/\(.already_posted)\"" "$RW/true"
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" \
    "{\"from\":\"$m2-01\",\"to\":\"$(day "$m2-01 +1 month -1 day")\",\"region\":\"$REGION\"}"
t_jq "the monthly reward route answers the same reward" '.rewards[0] | "\(.id)/\(.already_posted)"' "$RW/true"
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" \
    "{\"from\":\"$m2-05\",\"to\":\"$m2-20\",\"region\":\"$REGION\"}"
t_status "a period overlapping the backfilled month is refused" 409
t_eq "still one reward, one event, one posting" "1/1/1" \
    "$(rewards_rows)/$(q intake "SELECT count(*) FROM outbox WHERE type = 'intake.CenterRewardPosted' AND payload->>'center' = '$C'")/$(q settlement "SELECT count(*) FROM journal_entries WHERE source_key = 'center-reward:$RW'")"
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" report scorecard-backfill \
    --from "$m3" --to "$m1" --region "$REGION" 2>&1)
t_eq "asctl report scorecard-backfill posts nothing more" "0/1" \
    "$(jq -r '"\(.posted)/\(.already_posted)"' <<<"$out" 2>/dev/null)"
t_eq "the ledger stays balanced" t "$(q settlement "SELECT sum(debit_cents) = sum(credit_cents) FROM journal_lines")"

t_done
