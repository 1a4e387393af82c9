#!/usr/bin/env bash
# Intake: the quality report (issue 19.6) — completed repairs by brand, model, fault code, part
# and month, repeat-repair hot spots (the same device back within 90 days), the trend against the
# previous period, per manufacturer, as JSON and as CSV; scoped like tickets.
. "$(dirname "$0")/../lib.sh"

today=$(TZ=Asia/Shanghai date +%F)
model="QX-$RANDOM$RANDOM"
fault="QF$RANDOM"
imei=$(new_imei)

ticket_body() {
    ticket_json ".customer = {name: \"Qian Li\", phone: \"13900007777\"}" \
        ".device.model = \"$model\" | .device.imei = \"$imei\" | .device.imei_label = \"$imei\"" \
        '.purchase.price_cents = 199900 | del(.fault.description)'
}
repair() { # one repair of the device, to the hand-back; prints nothing
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body)"
    local id
    id=$(jbody .id)
    wait_decided "$id"
    http POST "/v1/tickets/$id/diagnosis" "$AS_TOKEN_CENTER" "{\"fault_code\":\"$fault\"}"
    http POST "/v1/tickets/$id/repair-complete" "$AS_TOKEN_CENTER" \
        '{"parts_used":[{"sku":"HX10-SCREEN","qty":1}],"labour_minutes":30,"cause":"manufacturing_quality"}'
    t_jq "repair $1 is done" .state ready
    http POST "/v1/tickets/$id/handback" "$AS_TOKEN_CENTER" '{}'
}
row() { # array key field
    jbody "[.$1[] | select(.key == \"$2\")][0].$3 // 0"
}

repair 1
repair 2 # the same device, back the same day: a repeat repair

http GET "/v1/reports/quality" "$AS_TOKEN_CENTER"
t_status "the quality report answers" 200
t_jq "the default period is the last 30 days" '"\(.from)..\(.to)"' "$(days_ago 29)..$today"
t_eq "by model: two repairs of the model" 2 "$(row by_model "Huaxin $model" count)"
t_eq "by fault code: two" 2 "$(row by_fault_code "$fault" count)"
t_jq "by part: the screens used are counted" '[.by_part[] | select(.key == "HX10-SCREEN")][0].count >= 2' true
t_jq "by brand: Huaxin" '[.by_brand[] | select(.key == "Huaxin")][0].count >= 2' true
t_jq "by month: this month" "[.by_month[] | select(.key == \"${today:0:7}\")][0].count >= 2" true
t_eq "the second repair is a repeat hot spot" 1 "$(row repeat_hotspots "Huaxin $model / $fault" count)"

# the trend: a period starting tomorrow has these repairs in its previous period
http GET "/v1/reports/quality?from=$(days_ahead 1)&to=$(days_ahead 30)" "$AS_TOKEN_CENTER"
t_jq "the previous period ends the day before from" '"\(.previous_from)..\(.previous_to)"' "$(days_ago 29)..$today"
t_eq "the model's count falls to none" "0/2/-100" \
    "$(row by_model "Huaxin $model" count)/$(row by_model "Huaxin $model" previous)/$(row by_model "Huaxin $model" change_pct)"

# per manufacturer
maker=$(q intake "SELECT manufacturer FROM brands WHERE brand = 'Huaxin'")
http GET "/v1/reports/quality?manufacturer=$(jq -rn --arg m "$maker" '$m|@uri')" "$AS_TOKEN_ADMIN"
t_status "one manufacturer's report" 200
t_jq "it names the manufacturer" .manufacturer "$maker"
t_eq "and counts its repairs" 2 "$(row by_model "Huaxin $model" count)"
http GET "/v1/reports/quality?manufacturer=NoSuchMaker" "$AS_TOKEN_ADMIN"
t_status "an unknown manufacturer is 422" 422
t_jq "the refusal names it" .error.code unknown_manufacturer
http GET "/v1/reports/quality?from=$today&to=$(days_ago 3)" "$AS_TOKEN_ADMIN"
t_status "from after to is refused" 400
t_jq "the refusal names from" '.error.fields[0].field' from
http GET "/v1/reports/quality?from=2026-02-31" "$AS_TOKEN_ADMIN"
t_status "a bad date is refused" 400

# scope
http GET "/v1/reports/quality" "$AS_TOKEN_REGION"
t_eq "the region (east) sees SH01's repairs" 2 "$(row by_model "Huaxin $model" count)"
http GET "/v1/reports/quality" "$AS_TOKEN_CENTER_B"
t_eq "another centre does not" 0 "$(row by_model "Huaxin $model" count)"
http GET "/v1/reports/quality" "$AS_TOKEN_FINANCE"
t_status "finance is not a quality role" 403

# CSV export
hdr=$(mktemp)
csv=$(curl -sS -D "$hdr" -H "Authorization: Bearer $AS_TOKEN_ADMIN" \
    "$AS_GATEWAY_URL/v1/reports/quality/csv?manufacturer=$(jq -rn --arg m "$maker" '$m|@uri')")
t_match "the CSV export is text/csv" 'text/csv' "$(grep -i '^content-type' "$hdr")"
rm -f "$hdr"
t_eq "the CSV starts with its header" "dimension,key,count,previous,change_pct" "$(head -1 <<<"$csv")"
t_match "the CSV has the model's row" "model,Huaxin $model,2,0," "$csv"
t_match "the CSV has the repeat hot spot" "repeat_hotspot,Huaxin $model / $fault,1," "$csv"
http GET "/v1/reports/quality/csv?manufacturer=NoSuchMaker" "$AS_TOKEN_ADMIN"
t_status "the CSV export refuses an unknown manufacturer too" 422

t_done
