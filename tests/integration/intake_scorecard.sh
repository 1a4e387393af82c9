#!/usr/bin/env bash
# Intake: the station scorecard (issue 19.5) — two fresh centres in a fresh region, a handful of
# tickets whose metrics are worked out by hand below, the weighted score and the ranking in the
# region, the versioned weights, the reward posted once to settlement as a payable to the centre
# (the ledger stays balanced), scope and bad input.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
REGION=sc$RUN
A=SCA-$RUN
B=SCB-$RUN
day() { TZ=Asia/Shanghai date -d "$1 days" +%F; }
today=$(day 0)
yesterday=$(day -1)
ticket() { # centre imei request invoice-days-ago
    jq -nc --arg c "$1" --arg imei "$2" --arg req "$3" --arg inv "$(day "-$4")" '{
      center: $c, customer: {name: "Zhao Min", phone: "13700004444"},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_DISPLAY", listed: true}, request: $req}'
}
repair() { # centre imei -> prints the ticket id; a covered repair to the hand-back
    until_status 201 POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket "$1" "$2" repair 40)"
    local id
    id=$(jbody .id)
    wait_http "/v1/tickets/$id" "$AS_TOKEN_ADMIN" '.state != "received"' true >/dev/null
    http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_ADMIN" '{"fault_code":"NO_DISPLAY","labour_code":"L-GENERAL"}'
    http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_ADMIN" \
        '{"parts_used":[],"labour_code":"L-GENERAL","labour_minutes":30,"cause":"manufacturing_quality"}'
    http POST "/v1/tickets/$id/handback" "$AS_TOKEN_ADMIN" '{}'
    echo "$id"
}
metric() { # row-centre key field
    jbody "[.rows[] | select(.center == \"$1\")][0].metrics[] | select(.key == \"$2\") | .$3"
}

http POST /v1/regions "$AS_TOKEN_ADMIN" "{\"code\":\"$REGION\",\"name\":\"Scorecard test $RUN\"}"
t_status "a fresh region" 201
for c in "$A" "$B"; do
    http POST /v1/centers "$AS_TOKEN_ADMIN" "{\"code\":\"$c\",\"name\":\"Scorecard $c\",\"region\":\"$REGION\"}"
    t_status "a fresh centre $c" 201
done

# Centre A: one device repaired twice (the second a repeat, so the first was no first-time fix),
# a refund (a ticket, no repair), one survey answered 4/4/4/4/4 with NPS 9, one complaint.
# Centre B: one repair, nothing else.
imei1=$(new_imei)
a1=$(repair "$A" "$imei1")
a2=$(repair "$A" "$imei1")
until_status 201 POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket "$A" "$(new_imei)" refund 3)"
a3=$(jbody .id)
wait_http "/v1/tickets/$a3" "$AS_TOKEN_ADMIN" .state adjudicated
http POST "/v1/tickets/$a3/handback" "$AS_TOKEN_ADMIN" '{}'
t_jq "A's refund is closed" .state refunded
b1=$(repair "$B" "$(new_imei)")
for id in "$a1" "$a2" "$b1"; do
    http GET "/v1/tickets/$id" "$AS_TOKEN_ADMIN"
    t_jq "repair $id is closed" .state closed
done

wait_http "/v1/surveys/due?date=$(day 10)&center=$A&limit=500" "$AS_TOKEN_ADMIN" \
    "any(.callbacks[]; .ticket_id == \"$a1\")" true
cb=$(jbody ".callbacks[] | select(.ticket_id == \"$a1\") | .id")
http POST "/v1/surveys/callbacks/$cb/answer" "$AS_TOKEN_ADMIN" \
    '{"attitude":4,"repair_quality":4,"timeliness":4,"price":4,"facilities":4,"nps":9}'
t_status "A's customer answers the survey" 200
until_status 201 POST /v1/complaints "$AS_TOKEN_ADMIN" "{\"channel\":\"phone\",\"cause\":\"attitude\",
    \"description\":\"scorecard test\",\"center\":\"$A\",\"customer_name\":\"Zhao Min\",\"customer_phone\":\"13700004444\"}"
t_status "a complaint about A" 201

# the facts reach intake from the surveys and settlement streams
facts() {
    q intake "SELECT (SELECT count(*) FROM charge_facts WHERE ticket_id IN ('$a1','$a2','$b1'))
                || '/' || (SELECT count(*) FROM survey_facts WHERE center = '$A')
                || '/' || (SELECT count(*) FROM complaint_facts WHERE center = '$A')"
}
t_poll "intake keeps the three charges, the answer and the complaint" 3/1/1 facts
cost() {
    http GET "/v1/settlement/charges/$1" "$AS_TOKEN_FINANCE"
    jbody '(.customer_cents // 0) + (.manufacturer_cents // 0) + (.company_cents // 0)'
}
ca1=$(cost "$a1")
ca2=$(cost "$a2")
cb1=$(cost "$b1")
t_check "the repairs were charged" test "$ca1" -gt 0 -a "$ca2" -gt 0 -a "$cb1" -gt 0

# So that the period is closed (rewards need that), the two centres' records are dated a day
# earlier: the same facts, yesterday.
sql intake "UPDATE tickets SET opened_at = opened_at - interval '1 day',
                promised_at = promised_at - interval '1 day', promise_met_at = promise_met_at - interval '1 day'
            WHERE center IN ('$A', '$B');
            UPDATE device_repairs SET dropped_off = dropped_off - 1, returned = returned - 1
            WHERE ticket_id IN ('$a1', '$a2', '$b1');
            UPDATE survey_facts SET answered_date = answered_date - 1 WHERE center = '$A';
            UPDATE complaint_facts SET opened_date = opened_date - 1 WHERE center = '$A'" >/dev/null

http GET "/v1/reports/scorecard?from=$yesterday&to=$yesterday&region=$REGION" "$AS_TOKEN_ADMIN"
t_status "the scorecard answers" 200
t_jq "it names the weights version in force" '.weights_version >= 1' true
t_jq "one row per centre of the region" '[.rows[].center] | sort | join(",")' "$A,$B"
t_jq "A: three tickets opened, two repairs completed" \
    "[.rows[] | select(.center == \"$A\")][0] | \"\(.tickets)/\(.repaired)\"" 3/2
t_eq "A: turnaround 1 hour (each repair counts at least one)" 1 "$(metric "$A" turnaround_hours value)"
t_eq "A: first-time fix 50% (the first repair came back)" 50 "$(metric "$A" first_time_fix_pct value)"
t_eq "A: repeat repairs 50% (the second is a repeat)" 50 "$(metric "$A" repeat_repair_pct value)"
t_eq "A: both promises kept" 100 "$(metric "$A" promise_kept_pct value)"
t_eq "A: satisfaction 4.0" 4 "$(metric "$A" satisfaction value)"
t_eq "A: NPS +100 (one promoter)" 100 "$(metric "$A" nps value)"
t_eq "A: 33.3 complaints per 100 tickets" 33.3 "$(metric "$A" complaints_per_100 value)"
t_eq "A: cost per repair is the mean charge" "$(((ca1 + ca2 + 1) / 2))" "$(metric "$A" cost_per_repair_cents value)"
t_eq "A: no parts fill rate without parts" "null" "$(metric "$A" parts_fill_pct value)"
t_eq "... and the reason is given" "no completed repair needed parts" "$(metric "$A" parts_fill_pct reason)"
t_eq "B: no satisfaction without survey answers" "no survey answered in the period" "$(metric "$B" satisfaction reason)"

# Scores by hand (weights v1: turnaround 100, ftf 150, repeat 100, promise 150, satisfaction 150,
# NPS 100, complaints 100, cost 75, fill 75; the metrics without data drop out):
# A: turnaround 100, ftf 50, repeat 50, promise 100, satisfaction 75, NPS 100, complaints 0,
#    cost 100 x cheapest in the region / A's.
mean_a=$(((ca1 + ca2 + 1) / 2))
min_cost=$((mean_a < cb1 ? mean_a : cb1))
weights=$(q intake "SELECT format('%s %s %s %s %s %s %s %s', turnaround, first_time_fix, repeat_repairs,
    promise_kept, satisfaction, nps, complaints, cost_per_repair) FROM scorecard_weights
    WHERE effective_from <= '$yesterday' ORDER BY effective_from DESC, version DESC LIMIT 1")
expect=$(awk -v w="$weights" -v m="$min_cost" -v a="$mean_a" -v b="$cb1" 'BEGIN {
    split(w, x, " ");
    ca = int(1000 * m / a + 0.5) / 10; cb = int(1000 * m / b + 0.5) / 10;
    sa = (100*x[1] + 50*x[2] + 50*x[3] + 100*x[4] + 75*x[5] + 100*x[6] + 0*x[7] + ca*x[8]) / (x[1]+x[2]+x[3]+x[4]+x[5]+x[6]+x[7]+x[8]);
    sb = (100*x[1] + 100*x[2] + 100*x[3] + 100*x[4] + 100*x[7] + cb*x[8]) / (x[1]+x[2]+x[3]+x[4]+x[7]+x[8]);
    printf "%.1f %.1f", sa + 1e-9, sb + 1e-9 }')
t_eq "A's weighted score, worked out by hand" "${expect% *}" \
    "$(jbody "[.rows[] | select(.center == \"$A\")][0].score" | awk '{printf "%.1f", $1}')"
t_eq "B's weighted score" "${expect#* }" \
    "$(jbody "[.rows[] | select(.center == \"$B\")][0].score" | awk '{printf "%.1f", $1}')"
t_jq "B ranks first in the region, A second" \
    '[.rows[] | "\(.center)=\(.rank)/\(.region_centers)"] | sort | join(",")' "$A=2/2,$B=1/2"

# asctl prints the card as a table, one column per metric
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" report scorecard \
    --from "$yesterday" --to "$yesterday" --region "$REGION")
t_eq "asctl report scorecard answers (exit 0)" 0 "$?"
t_note "$out"
t_match "its table has B ranked first" "$B +$REGION +1 " "$out"
t_match "and A's 50 % first-time fix" "$A +$REGION +2 .* 50 " "$out"

# scope: a centre sees only itself, a region only its region; finance reads; ranks stay regional
http GET "/v1/reports/scorecard?from=$yesterday&to=$yesterday" "$AS_TOKEN_CENTER"
t_status "a centre reads the scorecard" 200
t_jq "a centre sees only its own row" '[.rows[].center] | unique | join(",")' SH01
http GET "/v1/reports/scorecard?from=$yesterday&to=$yesterday" "$AS_TOKEN_REGION"
t_jq "the east region does not see the test region" "[.rows[] | select(.region == \"$REGION\")] | length" 0
http GET "/v1/reports/scorecard?from=$yesterday&to=$yesterday&center=$A" "$AS_TOKEN_FINANCE"
t_status "finance reads the scorecard" 200
t_jq "one centre, still ranked within its region" '.rows[0] | "\(.center) \(.rank)"' "$A 2"
http GET "/v1/reports/scorecard" "$AS_TOKEN_REVIEWER"
t_status "the reviewer is not a scorecard reader" 403

# bad input
http GET "/v1/reports/scorecard?from=$today&to=$yesterday" "$AS_TOKEN_ADMIN"
t_status "from after to is refused" 400
t_jq "the refusal names from" '.error.fields[0].field' from
http GET "/v1/reports/scorecard?to=2026-02-30" "$AS_TOKEN_ADMIN"
t_status "a bad date is refused" 400
t_jq "the refusal names to" '.error.fields[0].field' to
http GET "/v1/reports/scorecard?region=nosuch$RUN" "$AS_TOKEN_ADMIN"
t_status "an unknown region is 422" 422

# weights: versioned, in force from effective_from, checked
http GET /v1/scorecard/weights "$AS_TOKEN_ADMIN"
t_status "the weight sets are listed" 200
t_jq "version 1 is the initial set" '.weight_sets[0] | "\(.version) \(.effective_from) \(.reward_base_cents)"' "1 2000-01-01 2000"
before=$(jbody '.weight_sets | length')
good='"turnaround":100,"first_time_fix":100,"repeat_repairs":100,"promise_kept":100,"satisfaction":100,"nps":100,"complaints":100,"cost_per_repair":150,"parts_fill":150,"reward_base_cents":3000,"reward_bands":[{"min_score":0,"pct":0},{"min_score":50,"pct":100}]'
http POST /v1/scorecard/weights "$AS_TOKEN_CENTER" "{\"effective_from\":\"$(day 2)\",$good}"
t_status "a centre cannot change the weights" 403
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" "{\"effective_from\":\"$(day 2)\",${good/\"nps\":100/\"nps\":90}}"
t_status "weights that do not sum to 1000 are refused" 400
t_jq "the refusal names the weights" '.error.fields[0].field' weights
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" "{\"effective_from\":\"$(day 2)\",${good/\"turnaround\":100/\"turnaround\":-5}}"
t_jq "a negative weight is refused by name" '.error.fields[0].field' turnaround
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" "{$good}"
t_jq "effective_from is required" '.error.fields[0].field' effective_from
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" \
    "{\"effective_from\":\"$(day 2)\",${good/\"min_score\":50/\"min_score\":0}}"
t_jq "reward bands must rise" '.error.fields[0].field' 'reward_bands[1].min_score'
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" "{\"effective_from\":\"2020-01-01\",$good}"
t_status "a weight set cannot take effect in the past" 422
http GET /v1/scorecard/weights "$AS_TOKEN_ADMIN"
t_eq "nothing was added by the refusals" "$before" "$(jbody '.weight_sets | length')"
http POST /v1/scorecard/weights "$AS_TOKEN_ADMIN" "{\"effective_from\":\"$(day 2)\",$good,\"note\":\"test $RUN\"}"
t_status "head office adds a weight set" 201
v=$(jbody .version)
t_check "it is a new version" [ "$v" -gt 1 ]
t_eq "the addition is audited" 1 "$(q intake "SELECT count(*) FROM audit WHERE entity = 'scorecard_weights' AND entity_id = '$v'")"
http GET "/v1/reports/scorecard?from=$yesterday&to=$yesterday&region=$REGION" "$AS_TOKEN_ADMIN"
t_check "a closed period keeps the version in force on its last day" [ "$(jbody .weights_version)" -lt "$v" ]
http GET "/v1/reports/scorecard?from=$yesterday&to=$(day 2)&region=$REGION" "$AS_TOKEN_ADMIN"
t_jq "a period ending on its first day uses the new version" .weights_version "$v"

# rewards: closed periods only, once per centre and period, booked by settlement
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" "{\"from\":\"$yesterday\",\"to\":\"$today\",\"region\":\"$REGION\"}"
t_status "a period still open is refused" 409
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" "{\"to\":\"$yesterday\"}"
t_status "from is required" 400
t_jq "the refusal names from" '.error.fields[0].field' from
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_FINANCE" "{\"from\":\"$yesterday\",\"to\":\"$yesterday\",\"region\":\"$REGION\"}"
t_status "finance cannot post rewards" 403
t_eq "no reward exists after the refusals" 0 "$(q intake "SELECT count(*) FROM scorecard_rewards WHERE region = '$REGION'")"

http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" "{\"from\":\"$yesterday\",\"to\":\"$yesterday\",\"region\":\"$REGION\"}"
t_status "the rewards of the closed period are posted" 200
# v1 rule: 2000 cents per repaired ticket x the band: <60 0%, 60 50%, 75 100%, 90 120%
band() { awk -v s="$1" 'BEGIN { print (s >= 90 ? 120 : s >= 75 ? 100 : s >= 60 ? 50 : 0) }'; }
ra=$((2000 * 2 * $(band "${expect% *}") / 100))
rb=$((2000 * 1 * $(band "${expect#* }") / 100))
t_jq "A's reward: 2 repairs x 2000 x its band" "[.rewards[] | select(.center == \"$A\")][0].amount_cents" "$ra"
t_jq "B's reward: 1 repair x 2000 x 120%" "[.rewards[] | select(.center == \"$B\")][0].amount_cents" "$rb"
t_jq "computed with the version in force" '[.rewards[].weights_version] | unique | length' 1
rwb=$(jbody "[.rewards[] | select(.center == \"$B\")][0].id")
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" "{\"from\":\"$yesterday\",\"to\":\"$yesterday\",\"region\":\"$REGION\"}"
t_status "a second run answers the same" 200
t_jq "... marked already posted" '[.rewards[].already_posted] | all' true
t_jq "... with the same amounts" "[.rewards[] | select(.center == \"$B\")][0] | \"\(.id) \(.amount_cents)\"" "$rwb $rb"
http POST /v1/reports/scorecard/rewards "$AS_TOKEN_ADMIN" "{\"from\":\"$(day -2)\",\"to\":\"$yesterday\",\"center\":\"$B\"}"
t_status "an overlapping period for the same centre is refused" 409

booked() {
    q settlement "SELECT count(DISTINCT e.entry_no) || ' ' || sum(l.debit_cents) || ' ' || sum(l.credit_cents)
        FROM journal_entries e JOIN journal_lines l USING (entry_no)
        WHERE e.source_key = 'center-reward:$rwb' AND l.account IN ('6604', '2243')"
}
t_poll "settlement books B's reward once: Dr 6604 / Cr 2243" "1 $rb $rb" booked
t_eq "the payable is owed to the centre" "$rb" \
    "$(q settlement "SELECT sum(credit_cents) - sum(debit_cents) FROM journal_lines WHERE account = '2243' AND center = '$B'")"
t_eq "every journal entry stays balanced" 0 \
    "$(q settlement "SELECT count(*) FROM (SELECT entry_no FROM journal_lines GROUP BY entry_no
                      HAVING sum(debit_cents) <> sum(credit_cents)) x")"
t_eq "the rewards are audited" 2 "$(q intake "SELECT count(*) FROM audit WHERE entity = 'scorecard_reward'
                                               AND entity_id IN (SELECT id FROM scorecard_rewards WHERE region = '$REGION')")"

t_done
