#!/usr/bin/env bash
# day.sh — the demo day (`make demo`): a realistic working day of the after-sales network played
# against a running stack (`make up`), through the gateway like any client, then a summary that
# reconciles the money with the finance export.
#
#   deploy/demo/day.sh [--quiet]
#
# The day: front desks in four centres of two regions take in phones, accessories and cars —
# 7-day refunds, 15-day exchanges, free and paid repairs, an estimate declined, a duplicate
# claim held for a reviewer, a part GZ02 does not stock brought in by a warehouse transfer, a
# car at SH02 that waits overnight for its part, a device that comes back the same afternoon;
# the warehouse receives defective parts and tops up the centres, GZ01 borrows from SH01 with
# its approval (and one unit goes missing on the way); the hotline takes calls (a repair
# request opens an on-site order: a technician drives out to a car, and the travel fee is
# charged); the callback desk calls customers (low scores open complaints, one is escalated);
# the notification outbox is shown; finance submits, decides and pays the manufacturer claims,
# pays out the refunds owed to customers, closes last month and exports the ledger; the quality
# report and the station scorecard of the day close it. See docs/demo.md for how to read the
# summary.
#
# Settings (environment):
#   AS_VAR       the stack's state directory (default var; `make up` uses it)
#   AS_ENV_FILE  the stack's env file (default $AS_VAR/run/env): gateway URL and demo tokens
#   AS_BIN       where asctl is (default build/bin)
#   DEMO_OUT     where the day's files go (default $AS_VAR/demo/<date>-<run>): the export CSV,
#                tickets.json, summary.txt and summary.json
#   DEMO_SURVEYS_CLOCK=1   if the surveys service runs in test mode (AS_SURVEYS_TEST_MODE=1),
#                move its clock 25 hours ahead at the end to show a deadline breach escalating
#                (never on a production-like stack: the clock stays moved)
#
# Exit status: 0 when the day ran and the money reconciles, 1 otherwise.
# Every run uses fresh devices (new IMEIs and VINs), so the day can be played again and again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
DAY=$ROOT/deploy/demo/day
# shellcheck source=deploy/demo/day/lib.sh
. "$DAY/lib.sh"

case ${1:-} in
-h | --help)
    sed -n '2,31s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
--quiet) exec >/dev/null ;;
"") ;;
*)
    echo "usage: deploy/demo/day.sh [--quiet|--help]" >&2
    exit 2
    ;;
esac

for c in curl jq awk; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' is not installed"
done
ENV_FILE=${AS_ENV_FILE:-${AS_VAR:-var}/run/env}
[ -f "$ENV_FILE" ] || die "no $ENV_FILE: start the stack first (make up)"
# shellcheck source=/dev/null
. "$ENV_FILE"
ASCTL=${AS_BIN:-build/bin}/asctl
[ -x "$ASCTL" ] || die "$ASCTL is missing: build first (make)"
curl -sf -o /dev/null --max-time 5 "$AS_GATEWAY_URL/healthz" ||
    die "the stack at $AS_GATEWAY_URL is not healthy (make up; asctl health)"

RUN_NO=$(date +%s)
TODAY=$(sh_date)
THIS_MONTH=${TODAY:0:7}
LAST_MONTH=$(TZ=Asia/Shanghai date -d "${THIS_MONTH}-01 -1 month" +%Y-%m)
OUT=${DEMO_OUT:-${AS_VAR:-var}/demo/$TODAY-$RUN_NO}
mkdir -p "$OUT"
VISITS=$DAY/visits.json

declare -A TID=() IMEI=() SERIAL=() VIN=() CALLBACK=() COMPLAINT=()
ORDER="" CALL_COMPLAINT="" CALL_STATS="{}" QUALITY="{}" SCORECARD="{}" NOTIFS=0
TRANSFER_SHORTAGE=""
REVIEW_ID=""
ESCALATIONS=0

# ctl ROLE ARGS... — asctl as ROLE, its output indented under the story. CTL_FILTER (an
# extended regex) keeps only the lines it matches; CTL_MAX caps how many are shown. The whole
# output is read first, so a filter never cuts asctl short.
ctl() {
    local role=$1 out rc=0
    shift
    out=$("$ASCTL" --as "$role" "$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || die "asctl --as $role $* failed ($rc): $out"
    awk -v re="${CTL_FILTER:-}" -v max="${CTL_MAX:-0}" \
        '(re == "" || $0 ~ re) && (max == 0 || n < max) { n++; print "      " $0 }' <<<"$out"
}

# review_pending TICKET — the pending review of TICKET is in the queue (sets REVIEW_ID).
review_pending() {
    local after=""
    while :; do
        api GET "/v1/warranty/reviews?status=pending&limit=200${after:+&after=$after}" reviewer
        [ "$API_STATUS" = 200 ] || return 1
        REVIEW_ID=$(jb --arg t "$1" '.reviews[] | select(.ticket_id == $t) | .id')
        [ -z "$REVIEW_ID" ] || return 0
        after=$(jb '.next // empty')
        [ -n "$after" ] || return 1
    done
}

# callbacks_for KEY... — the callbacks of these visits' tickets are all scheduled (sets
# CALLBACK[KEY]); one due list per centre is read per try.
callbacks_for() {
    local key center missing=0
    local -A due=()
    for center in SH01 SH02 GZ01 GZ02; do
        api GET "/v1/surveys/due?date=$(sh_date '+3 days')&center=$center&limit=500" admin
        [ "$API_STATUS" = 200 ] || return 1
        while IFS=$'\t' read -r t cb; do
            [ -z "$t" ] || due[$t]=$cb
        done < <(jb '.callbacks[] | [.ticket_id, .id] | @tsv')
    done
    for key in "$@"; do
        if [ -n "${due[${TID[$key]}]:-}" ]; then
            CALLBACK[$key]=${due[${TID[$key]}]}
        elif [ -z "${CALLBACK[$key]:-}" ]; then
            missing=1
        fi
    done
    [ "$missing" -eq 0 ]
}

# returns_in CLAIM — every line of this run's tickets in CLAIM that needs its defective part
# back has it (the warehouse's receipt reached settlement).
returns_in() {
    api GET "/v1/settlement/claims/$1" finance
    [ "$API_STATUS" = 200 ] || return 1
    [ "$(jb --argjson ids "$(printf '%s\n' "${TID[@]}" | jq -R . | jq -sc .)" \
        '[.lines[] | select(.ticket_id as $t | $ids | index($t)) | select(.return_required and (.returned | not))] | length')" = 0 ]
}

# The visits, read once: VJ[key] is the JSON of one visit.
declare -A VJ=() DESK=() CENTER=()
while IFS=$'\t' read -r k c d j; do
    VJ[$k]=$j
    CENTER[$k]=$c
    DESK[$k]=$d
done < <(jq -r '.visits[] | "\(.key)\t\(.center)\t\(.desk)\t\(tojson)"' "$VISITS")
visit() { printf '%s' "${VJ[$1]:-}"; }
v() { jq -r "$2" <<<"${VJ[$1]}"; }

# ---- tickets --------------------------------------------------------------------------------

ticket_get() { must GET "/v1/tickets/$1" admin; }

# wait_state TICKET STATE... — until the ticket is in one of the states.
in_state() {
    local t=$1 s
    shift
    api GET "/v1/tickets/$t" admin
    [ "$API_STATUS" = 200 ] || return 1
    # The ticket's own "state" (nested objects say status, to_state, from_state).
    [[ $API_BODY =~ \"state\":\ *\"([a-z_]+)\" ]] || return 1
    s=${BASH_REMATCH[1]}
    for w in "$@"; do
        [ "$s" = "$w" ] && return 0
    done
    return 1
}
wait_state() {
    local t=$1
    shift
    wait_for 20 "ticket $t to be $*" in_state "$t" "$@"
}

# decision_line — the decision of the last ticket read, in one line.
decision_line() {
    local line refund
    IFS=$'\t' read -r line refund < <(jb '.decision | ["\(.status) / \(.remedy)\(if .free then ", free" else ", paid" end)",
        (if .remedy == "refund" then .refund_cents // "" else "" end | tostring)] | @tsv')
    printf '%s%s, rules %s' "$line" "${refund:+, refund $(yuan "$refund") yuan}" "$(jb '.decision.rules | join(" ")')"
}

# open_visit KEY — the front desk opens the ticket of a visit and waits for the decision.
open_visit() {
    local key=$1 vj center desk id imei serial vin days story request body
    vj=$(visit "$key")
    [ -n "$vj" ] || die "no visit $key in $VISITS"
    IFS=$'\t' read -r center desk imei serial vin days request story < <(jq -r '[.center, .desk,
        .device.imei // "-", .device.serial // "-", .device.vin // "-", .bought_days_ago, .request,
        "\(.customer.name): \(.story)"] | @tsv' <<<"$vj")
    case $imei in
    new:*) IMEI[$key]=$(run_imei "${imei#new:}") ;;
    same:*) IMEI[$key]=${IMEI[${imei#same:}]} ;;
    esac
    if [[ $serial == new:* ]]; then SERIAL[$key]=$(new_serial "${serial#new:}"); fi
    if [[ $vin == new:* ]]; then VIN[$key]=$(new_vin "${vin#new:}"); fi
    body=$(jq -c --arg imei "${IMEI[$key]:-}" --arg serial "${SERIAL[$key]:-}" \
        --arg vin "${VIN[$key]:-}" --arg inv "$(days_ago "$days")" '
        {center, customer, request, fault,
         device: (.device
                  | if .imei then .imei = $imei else . end
                  | if .serial then .serial = $serial else . end
                  | if .vin then .vin = $vin else . end),
         purchase: {invoice_date: $inv, price_cents, invoice: true, warranty_card: true}}
        + (if .flags then {flags} else {} end)' <<<"$vj")
    must POST /v1/tickets "$desk" "$body"
    id=$(jb .id)
    TID[$key]=$id
    printf '%s\t%s\t%s\n' "$key" "$id" "$center" >>"$OUT/tickets.tsv"
    say "$center  $id  $story"
    wait_state "$id" adjudicated awaiting_review
    detail "$(jb '.device | "\(.brand) \(.model) \(.imei // .vin // .serial)"'), asks for $request -> $(decision_line)"
    if [ "$(jb .state)" = awaiting_review ]; then
        detail "held for a reviewer before anything else happens"
    fi
}

desk_of() { printf '%s' "${DESK[$1]}"; }

handback() {
    local key=$1 t=${TID[$1]} note=${2:-} loaner=${3:-}
    must POST "/v1/tickets/$t/handback" "$(desk_of "$key")" "$(jq -nc --arg n "$note" --arg l "$loaner" '{note: $n, loaner_unit: $l} | with_entries(select(.value != ""))')"
    wait_state "$t" closed refunded exchanged
    detail "$t handed back: $(jb .state)"
}

# serve_backorders TICKET — the warehouse ships each allocated transfer made for the ticket's
# backordered lines, and the destination receives it (head office stands in for a centre
# without its own demo login).
serve_backorders() {
    local t=$1 tr state
    must GET "/v1/parts/transfers?ticket_id=$t" warehouse
    for tr in $(jb '.transfers[] | select(.state == "allocated" or .state == "shipped") | .id'); do
        must GET "/v1/parts/transfers/$tr" warehouse
        state=$(jb .state)
        if [ "$state" = allocated ]; then
            must POST "/v1/parts/transfers/$tr/ship" warehouse '{"note":"courier, same day"}'
            detail "WH01 ships $tr ($(jb '[.lines[] | "\(.sku) x\(.qty)"] | join(", ")')) to $(jb .to)"
        fi
        must POST "/v1/parts/transfers/$tr/receive" admin '{"note":"received at the stockroom"}'
        detail "$(jb .to) receives $tr: the backordered line is reserved"
    done
}

backordered() {
    api GET "/v1/parts/reservations?ticket_id=$1" admin
    [ "$API_STATUS" = 200 ] && [ "$(jb '[.reservations[] | select(.state == "backordered")] | length')" -gt 0 ]
}

# request_parts KEY — wait until the parts the diagnosis requested are reserved (serving
# backorders from the warehouse when the centre has none).
request_parts() {
    local key=$1 t=${TID[$1]} parts
    parts=$(v "$key" '.work.parts')
    [ "$(jq length <<<"$parts")" -gt 0 ] || return 0
    # The diagnosis requested them already (one step for the desk): wait for the parts service.
    wait_for 20 "the parts service to answer for $t" parts_answered "$t"
    if backordered "$t"; then
        detail "$(jb '[.reservations[] | select(.state == "backordered") | "\(.sku) x\(.qty)"] | join(", ")') not in stock at ${CENTER[$key]}: backordered"
        serve_backorders "$t"
    fi
    wait_state "$t" in_repair
    detail "parts reserved: $(v "$key" '[.work.parts[] | "\(.sku) x\(.qty)"] | join(", ")')"
}
parts_answered() {
    api GET "/v1/parts/reservations?ticket_id=$1" admin
    [ "$API_STATUS" = 200 ] && [ "$(jb '[.reservations[] | select(.state == "reserved" or .state == "backordered")] | length')" -gt 0 ]
}

# diagnose KEY — the diagnosis; paid work carries the estimate the customer must accept.
diagnose() {
    local key=$1 t=${TID[$1]} body
    body=$(jq -c --arg promised "$(sh_date tomorrow)" '
        .work as $w | {fault_code: .fault.code, labour_code: $w.labour_code, parts: $w.parts,
                       promised_date: $promised}
        + (if $w.estimate_cents then {estimate_cents: $w.estimate_cents} else {} end)' <<<"$(visit "$key")")
    must POST "/v1/tickets/$t/diagnosis" "$(desk_of "$key")" "$body"
    if [ "$(jb .state)" = estimate_pending ]; then
        detail "diagnosis: paid work, estimate $(yuan "$(jb .work.estimate_cents)") yuan incl. VAT, ready by $(jb .work.promised_date)"
    else
        detail "diagnosis: covered work, no charge to the customer"
    fi
}

consent() {
    local key=$1 t=${TID[$1]} accept
    accept=$(v "$key" .work.consent)
    must POST "/v1/tickets/$t/consent" "$(desk_of "$key")" "$(jq -nc --argjson a "$accept" \
        '{accept: $a, note: (if $a then "customer signed the estimate" else "too expensive; takes the phone back as it is" end)}')"
    detail "the customer $(if [ "$accept" = true ]; then echo accepts; else echo declines; fi) the estimate: $(jb .state)"
}

complete() {
    local key=$1 t=${TID[$1]} body
    body=$(jq -c '.work | {parts_used: .parts, labour_code, labour_minutes: .minutes, cause}
                         + (if .note then {note} else {} end)' <<<"$(visit "$key")")
    must POST "/v1/tickets/$t/repair-complete" "$(desk_of "$key")" "$body"
    detail "repaired ($(v "$key" '.work | "\(.labour_code), \(.minutes) min"')) and checked: ready"
}

# repair KEY — the whole workshop path of a repair visit.
repair() {
    local key=$1
    diagnose "$key"
    if [ "$(v "$key" '.work.estimate_cents // 0')" != 0 ]; then
        consent "$key"
        [ "$(v "$key" .work.consent)" = true ] || return 0
    fi
    request_parts "$key"
    complete "$key"
    handback "$key"
}

# ---- the day --------------------------------------------------------------------------------

: >"$OUT/tickets.tsv"
: >"$OUT/orders.txt"
printf 'The demo day %s (run %s) against %s\n' "$TODAY" "$RUN_NO" "$AS_GATEWAY_URL"
printf 'Files: %s\n' "$OUT"

chapter "Before opening"
must GET /v1/warranty/policy center
say "warranty policy in force: $(jb .version) ($(jb .promises | jq -r '[.[] | "\(.brand) \(.category)"] | join(", ")') promises)"
sed "s/@RUN@/$RUN_NO/" "$DAY/delivery.csv" >"$OUT/delivery.csv"
say "the warehouse books the supplier's delivery (asctl parts receive --file):"
CTL_MAX=1 ctl warehouse parts receive --file "$OUT/delivery.csv"
api POST /v1/parts/stock/safety warehouse '{"site":"GZ02","sku":"HX10-BOARD","safety_level":0,"reorder_point":0,"lead_time_days":1}'
say "GZ02 keeps no main boards: the warehouse sends one per repair (safety level 0)"

chapter "Morning: the front desks"
for key in refund7 exchange15 battery charger board screen port_paid liquid camera car_brake car_ecu car_battery; do
    open_visit "$key"
done

chapter "The hotline"
# call ROLE BODY — a desk records a call; prints its line of the story (CALL_ID is the call).
: >"$OUT/calls.tsv"
call() {
    must POST /v1/calls "$1" "$2"
    CALL_ID=$(jb .id)
    printf '%s\t%s\t%s\n' "$CALL_ID" "$(jb .category)" "$(jb '.center // "-"')" >>"$OUT/calls.tsv"
    say "$CALL_ID  $(jb '"\(.center // "head office")  \(.channel) \(.direction) \(.category), \(.duration_s // 0) s"'): $(jb .summary)"
}
call center "$(jq -nc --arg t "${TID[screen]}" '{direction: "inbound", channel: "hotline_400",
    category: "consultation", ticket_id: $t, duration_s: 75,
    summary: "asks whether the new screen is under warranty and when the phone is ready"}')"
detail "about ${TID[screen]}: answered at once (the desk sees the ticket while it talks)"
ONSITE_KM=18
window_start=$(date -u -d '+2 hours' +%Y-%m-%dT%H:00:00Z)
window_end=$(date -u -d '+4 hours' +%Y-%m-%dT%H:00:00Z)
call center "$(jq -nc --arg ws "$window_start" --arg we "$window_end" --arg vin "$(new_vin 90)" '{
    direction: "inbound", channel: "hotline_400", category: "repair_request", duration_s: 180,
    customer: {name: "Qin Feng", phone: "13600002468"},
    summary: "DriveCo M3 will not start in the garage at home; asks for a technician",
    service_order: {customer: {name: "Qin Feng", phone: "13600002468"},
                    address: "Lane 88, Yuyuan Road, Changning, Shanghai", category: "car",
                    brand: "DriveCo", model: "M3", serial: $vin,
                    fault: "does not start; the dashboard flickers", window_start: $ws,
                    window_end: $we, note: "garage B2, bay 14"}}')"
ORDER=$(jb .service_order_id)
[ -n "$ORDER" ] || die "the repair request call opened no on-site order"
printf '%s\n' "$ORDER" >>"$OUT/orders.txt"
detail "one step: the call opened on-site order $ORDER (SH01, a visit between $window_start and $window_end)"
call center_b "$(jq -nc --arg t "${TID[exchange15]}" '{direction: "inbound", channel: "hotline_400",
    category: "complaint", ticket_id: $t, duration_s: 240,
    summary: "waited forty minutes at the counter for the exchange",
    complaint: {cause: "attitude", description: "waited forty minutes at the GZ01 counter; nobody explained why"}}')"
call_complaint() {
    api GET "/v1/calls/$1" admin
    [ "$API_STATUS" = 200 ] && [ -n "$(jb '.complaint_id // empty')" ]
}
wait_for 20 "the complaint of call $CALL_ID" call_complaint "$CALL_ID"
CALL_COMPLAINT=$(jb .complaint_id)
detail "about ${TID[exchange15]}: surveys opened complaint $CALL_COMPLAINT from the call (GZ01's complaint desk follows it)"
must GET "/v1/calls/stats?from=$TODAY&to=$TODAY" admin
CALL_STATS=$API_BODY
say "the hotline today (all calls, GET /v1/calls/stats): $(jb '.total') call(s) — $(jb '[.by_category[] | "\(.key) \(.count)"] | join(", ")')"
detail "by centre: $(jb '[.by_center[] | "\(.key) \(.count)"] | join(", ")')"

chapter "On-site service"
TECH=zhou.qiang
# A technician is a staff login of the centre (people service); intake learns the account from
# the people stream and refuses a login it does not know (unknown_technician).
api POST /v1/users admin '{"login":"zhou.qiang","display_name":"Zhou Qiang","role":"center","site":"SH01","password":"Van-two-demo-2026!"}'
[ "$API_STATUS" = 201 ] || [ "$API_STATUS" = 409 ] || die "POST /v1/users (as admin) answered $API_STATUS: ${API_BODY:0:600}"
tech_saved() {
    api POST /v1/technicians center '{"login":"zhou.qiang","name":"Zhou Qiang","center":"SH01","skills":["car"],"active":true}'
    [ "$API_STATUS" = 201 ] || [ "$API_STATUS" = 200 ]
}
wait_for 10 "intake registers technician zhou.qiang (a staff account of SH01)" tech_saved
say "SH01 has a car technician on the road: $(jb '"\(.name) (\(.login)), skills \(.skills | join(", ")), region \(.region)"')"
must POST "/v1/service-orders/$ORDER/schedule" center "$(jq -nc --arg t "$TECH" '{technician: $t, note: "first visit of the afternoon"}')"
say "$ORDER scheduled for $TECH; a technician must be on site by $(jb .respond_by)"
must POST "/v1/service-orders/$ORDER/dispatch" center '{"note":"van 2, with a spare battery"}'
detail "dispatched: $(jb .state)"
must POST "/v1/service-orders/$ORDER/check-in" center '{}'
detail "checked in at the customer's garage: $(jb .state), response in time: $(jb .response_met)"
must POST "/v1/service-orders/$ORDER/check-out" center "$(jq -nc --argjson km "$ONSITE_KM" \
    '{work_done: "battery terminal corroded: cleaned and tightened, battery tested, car starts", distance_km: $km}')"
detail "checked out: $(jb '"\(.state), \(.distance_km) km round trip, the travel fee is paid by the \(.payer)"')"
must POST "/v1/service-orders/$ORDER/confirm" center '{"confirmed_by":"Qin Feng","signature":"Qin Feng","rating":5}'
detail "the customer signs the field-service record: $(jb .state), rating $(jb .rating)"
travel_charged() {
    api GET "/v1/settlement/charges/$1" finance
    [ "$API_STATUS" = 200 ]
}
wait_for 20 "the travel fee of $ORDER to reach settlement" travel_charged "$ORDER"
fee_lines=""
while read -r code amt; do
    fee_lines+="${fee_lines:+, }$code $(yuan "$amt")"
done < <(jb '.lines[] | "\(.code) \(.amount_cents)"')
say "settlement charges the visit: $fee_lines yuan -> the customer owes $(yuan "$(jb .customer_cents)") yuan$(jb '.invoice_no // empty | ", invoice " + .')"
detail "(a travel-fee charge like a repair's: it is in the ledger, the export and the money reconciliation below)"

chapter "Refunds and exchanges at the counter"
handback refund7 "refund paid to the original card"
handback exchange15 "new HX-10 Pro from the shelf, same colour"
handback battery "new battery handed over"

chapter "The workshop: free and paid repairs"
for key in charger screen car_brake port_paid car_battery liquid; do
    say "${TID[$key]} (${CENTER[$key]}, $(v "$key" '.device.brand + " " + .device.model'))"
    repair "$key"
done

chapter "A part GZ02 does not stock"
key=board
t=${TID[$key]}
say "$t at GZ02: $(v $key .story)"
diagnose $key
loaner=$(v $key .work.loaner)
api POST "/v1/parts/loaners/$loaner/lend" admin "$(jq -nc --arg t "$t" --arg c "$(v $key .customer.name)" --arg p "$(v $key .customer.phone)" \
    '{ticket_id: $t, customer: $c, phone: $p, note: "while the board is on its way"}')"
if [ "$API_STATUS" = 200 ]; then
    detail "loaner $loaner lent to $(v $key .customer.name) while she waits"
else
    detail "no loaner lent ($loaner: $(jb '.error.message // empty'))"
    loaner=""
fi
request_parts $key
must GET "/v1/parts/transfers?ticket_id=$t" warehouse
TRANSFER_SHORTAGE=$(jb '.transfers[0].id // empty')
complete $key
handback $key "board replaced; loaner returned" "$loaner"
if [ -n "$loaner" ]; then
    detail "loaner $loaner came back with the hand-back: back on the shelf"
fi

chapter "A car waits overnight at SH02"
key=car_ecu
t=${TID[$key]}
say "$t at SH02: $(v $key .story)"
diagnose $key
wait_for 20 "the parts service to answer for $t" parts_answered "$t"
detail "DC-ECU-V2 is not in stock at SH02: backordered, and WH01 is asked for one"
must GET "/v1/parts/transfers?ticket_id=$t" warehouse
tr=$(jb '.transfers[0].id // empty')
if [ -n "$tr" ] && [ "$(jb '.transfers[0].state')" = allocated ]; then
    must POST "/v1/parts/transfers/$tr/ship" warehouse '{"note":"overnight freight"}'
    detail "WH01 ships $tr by overnight freight: the car stays in $(v $key .center) until tomorrow"
fi
wait_state "$t" awaiting_parts
detail "$t is $(jb .state) at the end of the day (transfer $tr: in transit)"

chapter "A duplicate claim"
key=camera
say "${TID[$key]} at SH01: $(v $key .story) — in the workshop"
diagnose $key
request_parts $key
open_visit camera_dup
dup=${TID[camera_dup]}
wait_for 20 "the review of $dup" review_pending "$dup"
say "review $REVIEW_ID of $dup: $(jb --arg t "$dup" '.reviews[] | select(.ticket_id == $t) | .reasons | join(", ")')"
say "the reviewer's queue (asctl review list):"
CTL_FILTER="^(ID|--| *$REVIEW_ID )" ctl reviewer review list --status pending
say "the reviewer checks: the device is in repair at SH01 (${TID[camera]}); the claim in Shenzhen is refused"
"$ASCTL" --as reviewer review override "$REVIEW_ID" --status denied --remedy none \
    --reason "same IMEI under repair at SH01 (ticket ${TID[camera]}); one device, one claim" >/dev/null ||
    die "the reviewer could not override review $REVIEW_ID"
wait_state "$dup" adjudicated
detail "$dup decision now: $(decision_line)"
must POST "/v1/tickets/$dup/cancel" "$(desk_of camera_dup)" '{"reason":"claim refused by the reviewer: device already in repair at SH01"}'
detail "GZ02 cancels $dup and gives the customer the reviewer's answer"
complete camera
handback camera "camera module replaced"

chapter "Back again the same afternoon"
open_visit screen_again
say "repeat repair: $(jb .repeat_repair) (the same device was repaired here today: ${TID[screen]})"
repair screen_again

chapter "The warehouse: defective parts and replenishment"
n=0
for key in "${!TID[@]}"; do
    must GET "/v1/parts/returns?ticket_id=${TID[$key]}&status=owed" warehouse
    for r in $(jb '.returns[].id'); do
        must POST "/v1/parts/returns/$r/receive" warehouse '{"note":"received with the courier run"}'
        detail "defective $(jb .sku) of $(jb .ticket_id) from $(jb .site) received ($r)"
        n=$((n + 1))
    done
done
say "$n defective part(s) back at WH01 for the manufacturer claims"
# Top up what the day used at each centre, except parts a centre does not keep (GZ02's boards;
# SH02's car waits for its own transfer).
for site in SH01 GZ01 GZ02; do
    used=$(jq -c --arg s "$site" '[.visits[] | select(.center == $s and .work.stocked != false) | .work.parts[]?.sku] | unique' "$VISITS")
    must GET "/v1/parts/replenishment?site=$site" warehouse
    lines=$(jb --argjson used "$used" '[.items[] | select(.suggested_qty > 0 and (.sku as $k | $used | index($k))) | {sku, qty: .suggested_qty}]')
    if [ "$(jq length <<<"$lines")" -eq 0 ]; then
        say "$site is at its safety stock for what it used today"
        continue
    fi
    must POST /v1/parts/transfers warehouse "$(jq -nc --arg s "$site" --argjson l "$lines" '{from: "WH01", to: $s, lines: $l, note: "top-up to safety stock"}')"
    tr=$(jb .id)
    say "$site below its safety stock: $(jq -r '[.[] | "\(.sku) x\(.qty)"] | join(", ")' <<<"$lines") -> $tr ($(jb .state))"
    if [ "$(jb .state)" = allocated ]; then
        must POST "/v1/parts/transfers/$tr/ship" warehouse '{}'
        must POST "/v1/parts/transfers/$tr/receive" admin '{}'
        detail "shipped by WH01, received at $site"
    else
        detail "WH01 is short itself: the transfer waits for the next delivery"
    fi
done
# GZ01 borrows chargers from SH01: another centre's stock moves only with that centre's
# approval, and only GZ01 confirms what arrived (one unit short: a discrepancy, written off).
must POST /v1/parts/transfers center_b '{"from":"SH01","to":"GZ01","lines":[{"sku":"HX10-CHGPORT","qty":2}],"note":"GZ01 borrows two charging ports"}'
tr=$(jb .id)
say "GZ01 asks SH01 for 2 HX10-CHGPORT -> $tr ($(jb .state): $(jb .approval_reason))"
must POST "/v1/parts/transfers/$tr/approve" center '{"note":"we can spare two"}'
detail "SH01 approves: $(jb .state)"
if [ "$(jb .state)" = allocated ]; then
    must POST "/v1/parts/transfers/$tr/ship" center '{"note":"by courier"}'
    must POST "/v1/parts/transfers/$tr/receive" center_b '{"note":"one missing from the box","lines":[{"sku":"HX10-CHGPORT","qty":1}]}'
    detail "GZ01 receives $(jb '.discrepancies[0] | "\(.received) of \(.shipped) (\(.missing) missing, \(.value_cents / 100) yuan written off)"')"
else
    detail "SH01 has none to spare right now: the transfer waits for its stock"
fi
say "stock at SH01 now (asctl parts stock --site SH01):"
CTL_FILTER='^(SITE|---| *SH01 +HX10-(SCREEN|CAMERA) )' ctl warehouse parts stock --site SH01

chapter "Callbacks"
say "(callbacks fall due 48 hours after hand-back; the demo's callback desk rings at once)"
CALLED=(refund7 exchange15 battery charger board screen port_paid liquid camera car_brake car_battery screen_again)
wait_for 30 "the callbacks of today's closed tickets" callbacks_for "${CALLED[@]}"
for key in "${CALLED[@]}"; do
    t=${TID[$key]}
    cb=${CALLBACK[$key]}
    role=$(desk_of "$key")
    if [ "$role" = region ]; then role="admin"; fi
    IFS=$'\x1f' read -r mode tries note scores nps body < <(jq -r '.callback | [
        (if .refuse then "refuse" elif .unreachable then "unreachable" else "answer" end),
        (.unreachable // 0), (.note // ""), ((.scores // []) | join(",")), (.nps // ""),
        ({attitude: .scores[0], repair_quality: .scores[1], timeliness: .scores[2], price: .scores[3],
          facilities: .scores[4], nps} + (if .comment then {comment} else {} end) | tojson)]
        | map(tostring) | join("\u001f")' <<<"${VJ[$key]}")
    case $mode in
    refuse)
        must POST "/v1/surveys/callbacks/$cb/refuse" "$role" "$(jq -nc --arg n "$note" '{note: $n}')"
        say "$cb  $t  refused the survey"
        ;;
    unreachable)
        for _ in $(seq "$tries"); do
            must POST "/v1/surveys/callbacks/$cb/unreachable" "$role" "$(jq -nc --arg n "$note" '{note: $n}')"
        done
        say "$cb  $t  no answer ($(jb '"\(.attempts) of \(.max_attempts) attempts; next try \(.due_at)"'))"
        ;;
    *)
        must POST "/v1/surveys/callbacks/$cb/answer" "$role" "$body"
        IFS=$'\t' read -r score complaint < <(jb '.response | [.weighted_score, (.complaint_id // "")] | @tsv')
        printf '%s\t%s\t%s\t%s\n' "$key" "${CENTER[$key]}" "$score" "$nps" >>"$OUT/answers.tsv"
        say "$cb  $t  ${CENTER[$key]}  scores $scores nps $nps -> weighted $score${complaint:+  LOW: complaint $complaint opened}"
        if [ -n "$complaint" ]; then COMPLAINT[$key]=$complaint; fi
        ;;
    esac
done

chapter "Complaints"
c=${COMPLAINT[screen_again]:-}
[ -n "$c" ] || die "the low score of ${TID[screen_again]} opened no complaint"
say "$c (SH01, repeat repair): Sun Hao also rings Huaxin's hotline; the desk raises the severity"
must POST "/v1/complaints/$c/severity" center '{"severity":"serious","note":"customer complained to the Huaxin hotline"}'
ESCALATIONS=$((ESCALATIONS + $(jb '[.history[] | select(.event == "escalated")] | length')))
detail "now $(jb .severity), level $(jb .level), owner $(jb .owner); written report due $(jb '.deadlines[] | select(.kind == "report") | .due_at')"
must POST "/v1/complaints/$c/acknowledge" center '{"note":"centre manager called the customer back"}'
must POST "/v1/complaints/$c/report" center '{"report":"Repeat visit: the display flex cable was not seated at the first repair. Screen re-seated and tested for 2 hours; technician retrained on the HX-10 reassembly checklist."}'
must POST "/v1/complaints/$c/resolve" center '{"resolution":"repair redone free of charge, written apology, 90-day extended check"}'
detail "acknowledged, written report filed, resolved; the follow-up call will close it"
c=${COMPLAINT[port_paid]:-}
[ -n "$c" ] || die "the low score of ${TID[port_paid]} opened no complaint"
say "$c (GZ02, price): the desk lead explains the bill"
must POST "/v1/complaints/$c/acknowledge" admin '{"note":"called the customer"}'
must POST "/v1/complaints/$c/resolve" admin '{"resolution":"walked through the price list: port 69.00, labour 40.00, service fee 20.00, VAT 13 %"}'
must POST "/v1/complaints/$c/close" admin '{"followup_outcome":"satisfied","note":"accepts the explanation"}'
detail "acknowledged, resolved and closed (follow-up: satisfied)"
body=$(jq -nc --arg t "${TID[car_ecu]}" --arg n "$(v car_ecu .customer.name)" --arg p "$(v car_ecu .customer.phone)" \
    '{channel: "phone", cause: "overdue", ticket_id: $t, center: "SH02", customer_name: $n, customer_phone: $p,
      description: "was promised the car back today; now the part only comes tomorrow"}')
must POST /v1/complaints region "$body"
c=$(jb .id)
COMPLAINT[car_ecu]=$c
say "$c (SH02, by phone, overdue): opened, owner $(jb .owner), not yet acknowledged"
detail "deadlines: $(jb '[.deadlines[] | "\(.kind) by \(.due_at)"] | join("; ")')"
detail "if nobody acknowledges it by then, it escalates to the centre manager"
if [ "${DEMO_SURVEYS_CLOCK:-0}" = 1 ]; then
    api POST /v1/surveys/test/clock admin '{"seconds":90000}'
    if [ "$API_STATUS" = 200 ]; then
        say "(test mode) the surveys clock moves 25 hours ahead, to $(jb .now): the acknowledge deadline passes"
        must GET "/v1/complaints/$c" admin
        ESCALATIONS=$((ESCALATIONS + $(jb '[.history[] | select(.event == "escalated")] | length')))
        detail "$c: level $(jb .level), owner $(jb .owner), overdue $(jb .overdue)"
    else
        say "(the surveys service is not in test mode: $(jb '.error.message // empty'); no clock move)"
    fi
fi
say "the overdue list (asctl complaint overdue --center SH02):"
CTL_MAX=8 ctl admin complaint overdue --center SH02

chapter "Notifications"
# What the outbox holds for the day's tickets (notify writes rows only for a configured channel).
NOTIFS=0
declare -A NKIND=() NSTATE=()
for key in $(printf '%s\n' "${!TID[@]}" | sort); do
    must GET "/v1/notifications?ticket_id=${TID[$key]}&limit=200" admin
    while IFS=$'\t' read -r ch kind state; do
        [ -n "$kind" ] || continue
        NOTIFS=$((NOTIFS + 1))
        NKIND[$ch $kind]=$((${NKIND[$ch $kind]:-0} + 1))
        NSTATE[$state]=$((${NSTATE[$state]:-0} + 1))
    done < <(jb '.notifications[]? | [.channel, .kind, .state] | @tsv')
done
if [ "$NOTIFS" -eq 0 ]; then
    say "no notification channel is configured on this stack (notify's sms_url and customer_webhook_url are empty): the outbox holds nothing for today's tickets"
else
    say "$NOTIFS notification(s) in the outbox for today's ${#TID[@]} tickets: $(for s in "${!NSTATE[@]}"; do printf '%s %s\n' "$s" "${NSTATE[$s]}"; done | sort | paste -sd, - | sed 's/,/, /g')"
    for k in $(printf '%s\n' "${!NKIND[@]}" | tr ' ' ':' | sort); do
        detail "${k/:/ } x${NKIND[${k/:/ }]}"
    done
fi

chapter "Finance: manufacturer claims"
for mfr in HUAXIN DRIVECO; do
    must GET "/v1/settlement/claims?manufacturer=$mfr&period=$THIS_MONTH&state=open" finance
    claim=$(jb '.claims[0].id // empty')
    [ -n "$claim" ] || {
        say "$mfr: no open claim this month"
        continue
    }
    wait_for 20 "the defective returns of $claim to reach settlement" returns_in "$claim"
    must POST "/v1/settlement/claims/$claim/submit" finance '{"defer_waiting":true}'
    say "$claim submitted: $(jb .line_count) line(s), $(yuan "$(jb .claimed_cents)") yuan$(
        if [ -n "$(jb '.deferred_to // empty')" ]; then echo " (lines still waiting for their part moved to $(jb .deferred_to))"; fi)"
    # The manufacturer's answer: the workmanship repeat is not theirs; brake labour is capped.
    decisions=$(jb --arg rep "${TID[screen_again]}" --arg car "${TID[car_brake]}" '[.lines[]
        | if .ticket_id == $rep then {line_no, approved: false, reason: "repeat repair caused by workmanship (service_station): not reimbursed"}
          elif .ticket_id == $car and .kind == "labour" then {line_no, approved: true, approved_cents: (.claimed_cents * 3 / 4 | floor), reason: "labour capped at the standard 1.5 h"}
          else empty end]')
    must POST "/v1/settlement/claims/$claim/decision" finance "$(jq -nc --argjson l "$decisions" '{lines: $l, approve_others: true}')"
    detail "decided: $(jb .state), approved $(yuan "$(jb .approved_cents)") of $(yuan "$(jb .claimed_cents)") yuan"
    must POST "/v1/settlement/claims/$claim/payment" finance "$(jq -nc --arg r "$mfr-REMIT-$RUN_NO" '{reference: $r}')"
    detail "paid: $(yuan "$(jb .paid_cents)") yuan on $(jb .paid_date), reference $(jb .reference)"
    printf '%s\t%s\n' "$claim" "$(jb .paid_cents)" >>"$OUT/claims_paid.tsv"
done

chapter "Finance: refunds paid out"
# refund_owed TICKET — settlement has booked what the ticket owes its customer (sets OWED).
refund_owed() {
    api GET "/v1/settlement/refunds/$1" finance
    [ "$API_STATUS" = 200 ] && OWED=$(jb .outstanding_cents) && [ "$OWED" -gt 0 ]
}
: >"$OUT/refunds_paid.tsv"
methods=(bank_transfer alipay wechat_pay)
n=0
for key in $(printf '%s\n' "${!TID[@]}" | sort); do
    t=${TID[$key]}
    must GET "/v1/tickets/$t" admin
    case $(jb .state) in refunded | exchanged) ;; *) continue ;; esac
    wait_for 20 "the refund of $t to reach settlement" refund_owed "$t"
    m=${methods[$((n % ${#methods[@]}))]}
    must POST "/v1/settlement/refunds/$t/payout" finance \
        "$(jq -nc --arg m "$m" --arg r "PAYOUT-$RUN_NO-$t" '{method: $m, reference: $r}')"
    say "$t ($key): $(yuan "$OWED") yuan paid out to the customer by $m, reference PAYOUT-$RUN_NO-$t"
    printf '%s\t%s\n' "$t" "$(jb .paid_cents)" >>"$OUT/refunds_paid.tsv"
    n=$((n + 1))
done
say "$n refund(s) paid out; refunds payable for today's tickets are cleared"

chapter "Month-end close"
must GET /v1/settlement/periods finance
if [ "$(jb --arg p "$LAST_MONTH" '[.periods[] | select(.period == $p and .state == "closed")] | length')" -gt 0 ]; then
    say "$LAST_MONTH is closed already (an earlier run closed it)"
else
    must POST "/v1/settlement/periods/$LAST_MONTH/close" finance '{}'
    say "finance closes $LAST_MONTH: $(jb .entries) entries, debits $(yuan "$(jb .debit_cents)") = credits $(yuan "$(jb .credit_cents)") yuan"
fi
say "anything dated in a closed month is booked in the next open one; the periods now:"
CTL_FILTER="^(PERIOD|---|$LAST_MONTH|$THIS_MONTH)" ctl finance settlement periods

chapter "Finance export"
"$ASCTL" --as finance settlement export --from "$TODAY" --to "$TODAY" --format csv --out "$OUT/export.csv" 2>&1 |
    sed 's/^/  /' || die "the finance export failed"

chapter "The day in reports"
must GET "/v1/reports/quality?from=$TODAY&to=$TODAY" admin
QUALITY=$API_BODY
say "quality report, repairs completed today (GET /v1/reports/quality): $(jb '[.by_brand[] | "\(.key) \(.count)"] | join(", ")')"
detail "top fault codes: $(jb '[.by_fault_code[:4][] | "\(.key) \(.count)"] | join(", ")')"
detail "repeat-repair hot spots: $(jb '[.repeat_hotspots[:3][] | "\(.key) \(.count)"] | join(", ") | if . == "" then "none" else . end')"
must GET "/v1/reports/scorecard?from=$TODAY&to=$TODAY" admin
SCORECARD=$API_BODY
say "station scorecard for today (GET /v1/reports/scorecard), the demo centres:"
jb '.rows[] | select(.center | IN("SH01", "SH02", "GZ01", "GZ02"))
    | "\(.center)  \(.region)  tickets \(.tickets)  repaired \(.repaired)  score \(.score // "-")  rank \(.rank // "-") of \(.region_centers // "-")"' |
    sed 's/^/      /'

# ---- the summary ----------------------------------------------------------------------------

# shellcheck source=deploy/demo/day/summary.sh
. "$DAY/summary.sh"
