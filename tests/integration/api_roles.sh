#!/usr/bin/env bash
# API roles: every route of the gateway, with every role's token, against the live test stack.
#   - no token, or an unknown one, gets 401 (except /healthz, /livez and /readyz);
#   - a role outside the route's list gets 403 and nothing reaches a service (no command, audit
#     row or event carries those requests' ids, and the objects they named are unchanged);
#   - every allowed role is served: not 403, and no 5xx (inputs chosen inside its scope);
#   - scoping: SH01's desk data stays invisible to GZ01's desk (404 for objects by id, empty
#     lists for filters, 403 for a parts site named explicitly), and east's region sees no GZ01;
#   - personal data: ticket lists mask the customer's phone for roles other than admin and
#     center; each read of a full ticket writes exactly one audit row in intake.
# The roles × routes matrix of docs/roles.md is checked against the gateway first.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

RUN=$RANDOM$RANDOM
ROLES=(admin region center warehouse finance reviewer)
declare -A TOKEN=([admin]=$AS_TOKEN_ADMIN [region]=$AS_TOKEN_REGION [center]=$AS_TOKEN_CENTER
    [warehouse]=$AS_TOKEN_WAREHOUSE [finance]=$AS_TOKEN_FINANCE [reviewer]=$AS_TOKEN_REVIEWER)
TODAY=$(TZ=Asia/Shanghai date +%F)

# sql SERVICE QUERY — one value (or rows) from a service's schema, as that service's role.

# ticket_body PHONE DAYS_AGO [JQ] — an open-ticket body for a Huaxin phone (fresh IMEI).
ticket_body() {
    ticket_json ".customer = {name: \"Role Test\", phone: \"$1\"}" \
        ".purchase.invoice_date = \"$(days_ago "$2")\"" ${3:+"$3"}
}
# wait_sql SERVICE QUERY — poll until QUERY prints something (10 s at most); prints it.
wait_sql() {
    local i out
    for i in $(seq 1 100); do
        out=$(sql "$1" "$2")
        [ -n "$out" ] && { printf '%s' "$out"; return 0; }
        sleep 0.1
    done
    return 1
}
# open_ticket TOKEN BODY — open and wait until warranty decided; the id lands in $TICKET.
open_ticket() {
    http POST /v1/tickets "$1" "$2"
    TICKET=$(jbody .id)
    wait_http "/v1/tickets/$TICKET" "$AS_TOKEN_ADMIN" '.state != "received"' true
}

# --- 0. the matrix in docs/roles.md is the gateway's ---
if out=$("$API_ROOT/tests/api/roles-matrix.sh" --check 2>&1); then
    t_ok "docs/roles.md holds the roles x routes matrix of the gateway's route table"
else
    t_fail "docs/roles.md holds the roles x routes matrix of the gateway's route table" "$out"
fi

# --- 1. fixtures: SH01 and GZ01 data every check below names ---
# Two customers: PHONE for tickets that stay early in their life, PHONE_DONE for repaired ones.
PHONE=139$(printf '%08d' $((RUN % 100000000)))
PHONE_DONE=137$(printf '%08d' $((RUN % 100000000)))
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$PHONE" 40)"
T_SH=$TICKET
t_jq "fixture: SH01's desk opens a ticket that warranty decides" .state adjudicated
CU_SH=$(jbody .customer_id)   # its customer and device (the register, docs/customers.md)
IMEI_SH=$(jbody .device.imei)
open_ticket "$AS_TOKEN_CENTER_B" "$(ticket_body "13800$(printf '%06d' $((RUN % 1000000)))" 40)"
T_GZ=$TICKET
t_jq "fixture: GZ01's desk opens a ticket that warranty decides" .state adjudicated
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$PHONE" 40)"
T_SWEEP=$TICKET

# A paid repair at SH01 with a battery from SH01's stock: invoice, movements, callback.
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$PHONE_DONE" 100 '.flags = {misuse: true}')"
T_PAID=$TICKET
http POST "/v1/tickets/$T_PAID/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"LIQUID","labour_code":"L-BATTERY","estimate_cents":30000,"parts":[{"sku":"HX10-BATTERY","qty":1}]}'
http POST "/v1/tickets/$T_PAID/consent" "$AS_TOKEN_CENTER" '{"accept":true}'
wait_http "/v1/tickets/$T_PAID" "$AS_TOKEN_CENTER" .state in_repair
http POST "/v1/tickets/$T_PAID/repair-complete" "$AS_TOKEN_CENTER" '{"parts_used":[{"sku":"HX10-BATTERY","qty":1}],"labour_minutes":20,"cause":"other"}'
wait_http "/v1/settlement/charges/$T_PAID" "$AS_TOKEN_FINANCE" '.invoice_no != null' true
INVOICE=$(jbody .invoice_no)
ENTRY=$(jbody '.entries[0]')
http POST "/v1/tickets/$T_PAID/handback" "$AS_TOKEN_CENTER" '{}'
t_status "fixture: SH01's paid repair is handed back" 200
sleep 0.2
t_eq "fixture: SH01's paid repair is closed" closed "$(sql intake "SELECT state FROM tickets WHERE id = '$T_PAID'")"
t_match "fixture: the paid repair has an SH01 invoice" '^SH01-' "$INVOICE"
CALLBACK=$(wait_sql surveys "SELECT id FROM callbacks WHERE ticket_id = '$T_PAID'")
t_match "fixture: surveys scheduled the callback of the closed ticket" '.+' "$CALLBACK"

# A warranty repair at SH01 whose replaced battery is owed back (a defective return, a claim).
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$PHONE_DONE" 30)"
T_WARR=$TICKET
http POST "/v1/tickets/$T_WARR/diagnosis" "$AS_TOKEN_CENTER" '{"fault_code":"NO_POWER","labour_code":"L-BATTERY","parts":[{"sku":"HX10-BATTERY","qty":1}]}'
wait_http "/v1/tickets/$T_WARR" "$AS_TOKEN_CENTER" .state in_repair
http POST "/v1/tickets/$T_WARR/repair-complete" "$AS_TOKEN_CENTER" '{"parts_used":[{"sku":"HX10-BATTERY","qty":1}],"labour_minutes":20,"cause":"manufacturing_quality"}'
RETURN_ID=$(wait_sql parts "SELECT id FROM defective_returns WHERE ticket_id = '$T_WARR'")
t_match "fixture: the replaced battery is owed back to the warehouse" '.+' "$RETURN_ID"
wait_http "/v1/settlement/charges/$T_WARR" "$AS_TOKEN_FINANCE" '[.lines[].claim_id | select(.)] | length > 0' true
CLAIM=$(jbody '[.lines[].claim_id | select(.)][0]')
t_match "fixture: the warranty repair is claimed from the manufacturer" '^CLM-' "$CLAIM"

# A review: the IMEI inside differs from the label.
open_ticket "$AS_TOKEN_CENTER" "$(ticket_body "$PHONE" 30 ".device.imei_label = \"$(new_imei)\"")"
T_REVIEW=$TICKET
REVIEW=$(wait_sql warranty "SELECT id FROM reviews WHERE ticket_id = '$T_REVIEW'")
t_match "fixture: a proof mismatch waits in the review queue" '^[0-9]+$' "$REVIEW"

# Transfers at SH01: one out (SH01 ships), one in (SH01 receives), one to cancel.
http POST /v1/parts/transfers "$AS_TOKEN_CENTER" '{"from":"SH01","to":"WH01","lines":[{"sku":"HX10-CHGPORT","qty":1}],"note":"api roles test"}'
TR_OUT=$(jbody .id)
http POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" '{"from":"WH01","to":"SH01","lines":[{"sku":"HX10-CHGPORT","qty":1}],"note":"api roles test"}'
TR_IN=$(jbody .id)
http POST "/v1/parts/transfers/$TR_IN/ship" "$AS_TOKEN_WAREHOUSE"
t_jq "fixture: the warehouse ships a transfer to SH01" .state shipped
http POST /v1/parts/transfers "$AS_TOKEN_WAREHOUSE" '{"from":"WH01","to":"SH01","lines":[{"sku":"HX10-CHGPORT","qty":1}],"note":"api roles test"}'
TR_CANCEL=$(jbody .id)
LOANER=LN-API$RUN
http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$LOANER\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
t_status "fixture: the warehouse registers a loaner unit at SH01" 201
# (Loaners are lent against open tickets only: the one waiting for its review.)
http POST "/v1/parts/loaners/$LOANER/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T_REVIEW\",\"customer\":\"Role Test\",\"phone\":\"$PHONE\"}"
t_status "fixture: SH01 lends it to its customer" 200

# A complaint at SH01.
http POST /v1/complaints "$AS_TOKEN_CENTER" "{\"channel\":\"phone\",\"cause\":\"overdue\",\"description\":\"api roles test\",\"ticket_id\":\"$T_PAID\",\"customer_name\":\"Role Test\",\"customer_phone\":\"$PHONE\"}"
C_SH=$(jbody .id)
t_status "fixture: SH01's desk opens a complaint" 201

# --- 2. another centre's data (GZ01's desk, AS_TOKEN_CENTER_B) ---
B=$AS_TOKEN_CENTER_B
http GET "/v1/tickets/$T_PAID" "$B"
t_status "GZ01 reading SH01's ticket gets 404 (as if it did not exist)" 404
http GET "/v1/tickets?center=SH01" "$B"
t_jq "GZ01 listing tickets of SH01 gets an empty list" '.tickets | length' 0
http GET "/v1/tickets?phone=$PHONE" "$B"
t_jq "GZ01 searching SH01's customer by phone finds nothing" '.tickets | length' 0
http GET "/v1/tickets?limit=200" "$B"
t_jq "GZ01's ticket list holds only GZ01 tickets" '[.tickets[].center] | unique | map(select(. != "GZ01")) | length' 0
http POST "/v1/tickets/$T_SH/cancel" "$B" '{"reason":"not mine"}'
t_status "GZ01 cancelling SH01's ticket gets 404" 404
http GET "/v1/tickets/$T_SH" "$AS_TOKEN_CENTER"
t_jq "SH01's ticket is unchanged" .state adjudicated
http GET "/v1/tickets/$T_GZ" "$AS_TOKEN_REGION"
t_status "region east reading a GZ01 (south) ticket gets 404" 404
http GET "/v1/tickets?limit=200" "$AS_TOKEN_REGION"
t_jq "region east's ticket list holds only east tickets" '[.tickets[].region] | unique | map(select(. != "east")) | length' 0

http GET "/v1/parts/movements?site=SH01" "$B"
t_status "GZ01 naming SH01 in the stock ledger gets 403" 403
http GET "/v1/parts/movements?ticket_id=$T_PAID" "$B"
t_jq "GZ01 asking for the movements of SH01's ticket gets an empty list" '.movements | length' 0
http GET "/v1/parts/movements?ticket_id=$T_PAID" "$AS_TOKEN_CENTER"
t_jq "(SH01 itself sees them)" '.movements | length > 0' true
http GET "/v1/parts/movements?limit=1000" "$B"
t_jq "GZ01's ledger holds only GZ01 movements" '[.movements[].site] | unique | map(select(. != "GZ01")) | length' 0
http GET "/v1/parts/stock?site=SH01" "$B"
t_status "GZ01 naming SH01's stock gets 403" 403
http GET "/v1/parts/stock" "$B"
t_jq "GZ01's stock holds only GZ01" '[.items[].site] | unique | map(select(. != "GZ01")) | length' 0
http GET "/v1/parts/transfers/$TR_IN" "$B"
t_status "GZ01 reading a WH01->SH01 transfer gets 404" 404
http GET "/v1/parts/transfers" "$B"
t_jq "GZ01's transfers all touch GZ01" '[.transfers[] | select(.from != "GZ01" and .to != "GZ01")] | length' 0
http GET "/v1/parts/reservations?ticket_id=$T_PAID" "$B"
t_jq "GZ01 sees no reservation of SH01's ticket" '.reservations | length' 0
http GET "/v1/parts/returns?ticket_id=$T_WARR" "$B"
t_jq "GZ01 sees no defective return owed by SH01" '.returns | length' 0
http GET "/v1/parts/loaners" "$B"
t_jq "GZ01's loaners are GZ01's, none lent to SH01's customer" \
    "[.loaners[] | select(.site != \"GZ01\" or .ticket_id == \"$T_PAID\")] | length" 0

http GET "/v1/settlement/invoices/$INVOICE" "$B"
t_status "GZ01 reading SH01's invoice gets 404" 404
http GET "/v1/settlement/invoices?center=SH01" "$B"
t_jq "GZ01 listing SH01's invoices gets an empty list" '.invoices | length' 0
http GET "/v1/settlement/invoices?limit=500" "$B"
t_jq "GZ01's invoice list holds only GZ01 invoices" '[.invoices[].center] | map(select(. != "GZ01")) | length' 0
http GET "/v1/settlement/charges/$T_PAID" "$B"
t_status "GZ01 reading the charges of SH01's ticket gets 404" 404
http GET "/v1/settlement/invoices/$INVOICE" "$AS_TOKEN_CENTER"
t_status "(SH01 reads its own invoice)" 200

http GET "/v1/complaints/$C_SH" "$B"
t_status "GZ01 reading SH01's complaint (customer name and phone) gets 404" 404
http GET "/v1/complaints?limit=200" "$B"
t_jq "GZ01's complaint list holds no SH01 complaint" '[.complaints[] | select(.center != "GZ01")] | length' 0
http GET "/v1/surveys/callbacks/$CALLBACK" "$B"
t_status "GZ01 reading SH01's satisfaction callback gets 404" 404
http GET "/v1/surveys/due?center=SH01&date=$(TZ=Asia/Shanghai date -d '+30 days' +%F)" "$B"
t_jq "GZ01 listing SH01's due callbacks gets an empty list" '.callbacks | length' 0
http POST /v1/complaints "$B" '{"channel":"phone","cause":"other","description":"x","center":"SH01"}'
t_status "GZ01 opening a complaint for SH01 gets 403" 403

# --- 3. personal data ---
for role in admin center region finance reviewer; do
    http GET "/v1/tickets?phone=$PHONE&limit=200" "${TOKEN[$role]}"
    phones=$(jbody '[.tickets[].customer.phone] | unique | join(",")')
    [ "$HTTP_STATUS" = 200 ] || phones="HTTP $HTTP_STATUS ${HTTP_BODY:0:200}"
    case $role in
    admin | center) t_eq "the ticket list shows $role the customer's phone in full" "$PHONE" "$phones" ;;
    *)
        t_eq "the ticket list masks the customer's phone for $role" "*******${PHONE: -4}" "$phones"
        if [ "$HTTP_STATUS" != 200 ]; then
            t_fail "the full phone appears nowhere in $role's ticket list" "HTTP $HTTP_STATUS"
        elif [[ $HTTP_BODY == *"$PHONE"* ]]; then
            t_fail "the full phone appears nowhere in $role's ticket list" "found $PHONE in the body"
        else
            t_ok "the full phone appears nowhere in $role's ticket list"
        fi
        ;;
    esac
done
audit_reads() {
    sql intake "SELECT count(*) FROM audit WHERE action = 'read' AND entity = 'ticket' AND entity_id = '$1'"
}
before=$(audit_reads "$T_SH")
for role in admin region center finance reviewer; do
    http GET "/v1/tickets/$T_SH" "${TOKEN[$role]}"
    [ "$HTTP_STATUS" = 200 ] || t_fail "$role reads the full ticket" "HTTP $HTTP_STATUS: $HTTP_BODY"
done
after=$(audit_reads "$T_SH")
t_eq "five reads of a full ticket by five roles write five audit rows" 5 $((after - before))
t_eq "each audit row names its reader" "admin,desk.sh01,finance,manager.east,reviewer" \
    "$(sql intake "SELECT string_agg(principal->>'subject', ',' ORDER BY principal->>'subject') FROM (SELECT principal FROM audit WHERE action = 'read' AND entity = 'ticket' AND entity_id = '$T_SH' ORDER BY id DESC LIMIT 5) x")"
before=$after
http GET "/v1/tickets/$T_SH" "$AS_TOKEN_CENTER" "" -H "Idempotency-Key: api-read-$RUN"
http GET "/v1/tickets/$T_SH" "$AS_TOKEN_CENTER" "" -H "Idempotency-Key: api-read-$RUN"
t_eq "two reads with the same Idempotency-Key are two reads: two audit rows" 2 $(($(audit_reads "$T_SH") - before))
before=$(audit_reads "$T_SH")
http GET "/v1/tickets?phone=$PHONE" "$AS_TOKEN_ADMIN"
http GET "/v1/tickets/$T_SH" "$AS_TOKEN_CENTER_B"
t_eq "a list, or a refused read (404), writes no read audit row for the ticket" 0 $(($(audit_reads "$T_SH") - before))

# --- 4. the sweep: every route with every role ---

# route_input METHOD PATTERN ROLE — the request for ROLE: sets REQ_PATH (with query) and
# REQ_BODY. Inputs stay inside the role's scope (SH01, region east), so an allowed role that
# gets 403 is a contradiction of the role model, not a scope refusal. Writes that would touch
# shared state (claims, periods, entries, policies, weights) use objects that do not exist or
# values the service refuses after its role check.
route_input() {
    local m=$1 p=$2 role=$3
    REQ_PATH=$p
    REQ_BODY=""
    case "$m $p" in
    "POST /v1/tickets") REQ_BODY=$(ticket_body "$PHONE" 40 '.center = "SH01"') ;;
    "GET /v1/tickets") REQ_PATH="/v1/tickets?center=SH01&limit=5" ;;
    "GET /v1/promises") REQ_PATH="/v1/promises?center=SH01" ;;
    "POST /v1/service-levels") REQ_BODY='{"center":"SH01","category":"general","hours":0}' ;;
    "POST /v1/calls") REQ_BODY='{"direction":"inbound","category":"other","summary":"api roles test","center":"SH01"}' ;;
    "GET /v1/calls") REQ_PATH="/v1/calls?center=SH01&limit=5" ;;
    "POST /v1/tickets/{id}/diagnosis") REQ_BODY='{"fault_code":"NO_POWER","parts":[]}' ;;
    "POST /v1/tickets/{id}/consent") REQ_BODY='{"accept":true}' ;;
    "POST /v1/tickets/{id}/parts-requests") REQ_BODY='{"parts":[{"sku":"HX10-CHGPORT","qty":1}]}' ;;
    "POST /v1/tickets/{id}/repair-complete") REQ_BODY='{"labour_minutes":10,"cause":"other"}' ;;
    "POST /v1/tickets/{id}/handback") REQ_BODY='{}' ;;
    "POST /v1/tickets/{id}/cancel") REQ_BODY='{"reason":"api roles test"}' ;;
    "POST /v1/tickets/{id}/return-unrepaired") REQ_BODY='{"reason":"api roles test"}' ;;
    "POST /v1/warranty/evaluate") REQ_BODY='{"id":"roles","category":"phone_host","invoice_date":"2026-01-10","claim_date":"2026-01-17","price_cents":399900,"proofs":{"invoice":true,"warranty_card":true},"fault":{"listed":true},"request":"refund"}' ;;
    "POST /v1/warranty/policies") REQ_BODY='{"version":"demo-2026.1","effective_from":"2030-01-01"}' ;;
    "POST /v1/warranty/reviews/{id}/decision") REQ_BODY='{"action":"approve","reason":"api roles test"}' ;;
    "GET /v1/warranty/reviews") REQ_PATH="/v1/warranty/reviews?limit=5" ;;
    "POST /v1/parts/skus") REQ_BODY="{\"sku\":\"API-$RUN\",\"name\":\"api roles test part\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"unit_cost_cents\":100,\"list_price_cents\":200}" ;;
    "GET /v1/parts/stock" | "GET /v1/parts/replenishment" | "GET /v1/parts/loaners" | "GET /v1/parts/transfers" | "GET /v1/parts/reservations" | "GET /v1/parts/returns" | "GET /v1/parts/ledger/check")
        REQ_PATH="$p?site=SH01" ;;
    "GET /v1/parts/movements") REQ_PATH="/v1/parts/movements?site=SH01&limit=5" ;;
    "POST /v1/parts/stock/safety") REQ_BODY='{"site":"SH01","sku":"HX10-CHGPORT","safety_level":2,"reorder_point":3}' ;;
    "POST /v1/parts/receipts") REQ_BODY='{"site":"SH01","sku":"HX10-CHGPORT","qty":1,"note":"api roles test"}' ;;
    "POST /v1/parts/adjustments") REQ_BODY='{"site":"SH01","sku":"HX10-CHGPORT","delta":1,"reason":"count","note":"api roles test"}' ;;
    "POST /v1/parts/scrap") REQ_BODY='{"site":"SH01","sku":"HX10-CHGPORT","qty":1,"reason":"api roles test","defective":true}' ;;
    "POST /v1/parts/transfers") REQ_BODY='{"from":"WH01","to":"SH01","lines":[{"sku":"HX10-CHGPORT","qty":1}],"note":"api roles test"}' ;;
    "POST /v1/parts/transfers/{id}/ship") REQ_BODY='{"note":"api roles test"}' ;;
    "POST /v1/parts/transfers/{id}/receive") REQ_BODY='{}' ;;
    "POST /v1/parts/transfers/{id}/cancel") REQ_BODY='{"reason":"api roles test"}' ;;
    "POST /v1/parts/transfers/{id}/approve") REQ_BODY='{"note":"api roles test"}' ;;
    "POST /v1/parts/transfers/{id}/reject") REQ_BODY='{"reason":"api roles test"}' ;;
    "POST /v1/settlement/refunds/{ticket_id}/payout") REQ_BODY='{"method":"cash","reference":"api roles test"}' ;;
    "POST /v1/parts/returns/{id}/receive") REQ_BODY='{}' ;;
    "POST /v1/parts/loaners") REQ_BODY="{\"serial\":\"LN-R$RUN-$role\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}" ;;
    "POST /v1/parts/loaners/{serial}/lend") REQ_BODY="{\"ticket_id\":\"$T_SWEEP\",\"customer\":\"Role Test\",\"phone\":\"$PHONE\"}" ;;
    "POST /v1/parts/loaners/{serial}/return") REQ_BODY='{}' ;;
    "GET /v1/settlement/invoices") REQ_PATH="/v1/settlement/invoices?center=SH01&limit=5" ;;
    "GET /v1/settlement/claims") REQ_PATH="/v1/settlement/claims?limit=5" ;;
    "POST /v1/settlement/claims/{id}/submit") REQ_BODY='{}' ;;
    "POST /v1/settlement/claims/{id}/decision") REQ_BODY='{"approve_others":true}' ;;
    "POST /v1/settlement/claims/{id}/payment") REQ_BODY='{}' ;;
    "POST /v1/settlement/periods/{period}/close") REQ_BODY='{}' ;;
    "POST /v1/settlement/entries/{id}/reverse") REQ_BODY='{"reason":"api roles test"}' ;;
    "GET /v1/settlement/balance") REQ_PATH="/v1/settlement/balance?period=$(TZ=Asia/Shanghai date +%Y-%m)" ;;
    "GET /v1/settlement/costs") REQ_PATH="/v1/settlement/costs?group=center" ;;
    "GET /v1/settlement/export") REQ_PATH="/v1/settlement/export?format=json&from=$TODAY" ;;
    "GET /v1/surveys/due") REQ_PATH="/v1/surveys/due?center=SH01" ;;
    "POST /v1/surveys/callbacks/{id}/answer") REQ_BODY='{"attitude":5,"repair_quality":5,"timeliness":5,"price":5,"facilities":5,"nps":10}' ;;
    "POST /v1/surveys/callbacks/{id}/refuse" | "POST /v1/surveys/callbacks/{id}/unreachable") REQ_BODY='{"note":"api roles test"}' ;;
    "POST /v1/surveys/weights") REQ_BODY="{\"effective_from\":\"$(days_ago 1)\",\"attitude\":200,\"repair_quality\":200,\"timeliness\":200,\"price\":200,\"facilities\":200}" ;;
    "POST /v1/surveys/test/clock") REQ_BODY='{"seconds":0}' ;;
    "GET /v1/reports/satisfaction") REQ_PATH="/v1/reports/satisfaction?group=center" ;;
    "GET /v1/reports/complaints") REQ_PATH="/v1/reports/complaints?group=cause" ;;
    "POST /v1/complaints") REQ_BODY="{\"channel\":\"walk_in\",\"cause\":\"other\",\"description\":\"api roles test\",\"center\":\"SH01\"}" ;;
    "GET /v1/complaints") REQ_PATH="/v1/complaints?center=SH01&limit=5" ;;
    "POST /v1/complaints/{id}/acknowledge") REQ_BODY='{"note":"api roles test"}' ;;
    "POST /v1/complaints/{id}/resolve") REQ_BODY='{"resolution":"api roles test"}' ;;
    "POST /v1/complaints/{id}/close") REQ_BODY='{"followup_outcome":"satisfied"}' ;;
    "POST /v1/complaints/{id}/reopen") REQ_BODY='{"reason":"api roles test"}' ;;
    "POST /v1/complaints/{id}/severity") REQ_BODY='{"severity":"serious","note":"api roles test"}' ;;
    "POST /v1/complaints/{id}/report") REQ_BODY='{"report":"api roles test"}' ;;
    "POST /v1/complaints/{id}/assign") REQ_BODY='{"owner":"quality.lead"}' ;;
    "POST /v1/customers") REQ_BODY="{\"name\":\"Api Roles\",\"phones\":[\"$PHONE\"]}" ;;
    "PATCH /v1/customers/{id}") REQ_BODY='{"address":"api roles test"}' ;;
    GET\ * | "POST /v1/warranty/decisions/{ticket_id}/re-evaluate") ;;
    *)
        REQ_BODY='{}'
        UNKNOWN_INPUT+="$m $p"$'\n'
        ;;
    esac
    # Path parameters: the fixture of that kind.
    local id
    case $p in
    /v1/tickets/*) id=$T_SWEEP ;;
    /v1/warranty/decisions/*) id=$T_SWEEP ;;
    /v1/warranty/reviews/*) id=$REVIEW ;;
    /v1/parts/transfers/*/ship) id=$TR_OUT ;;
    /v1/parts/transfers/*/cancel) id=$TR_CANCEL ;;
    # Only the destination confirms an arrival, only the source approves: each role acts on a
    # transfer where it is that end (the warehouse is the destination of TR_OUT, SH01 the source).
    /v1/parts/transfers/*/receive) id=$TR_IN && [ "$role" = warehouse ] && id=$TR_OUT ;;
    /v1/parts/transfers/*/approve) id=$TR_IN && [ "$role" = center ] && id=$TR_OUT ;;
    /v1/parts/transfers/*) id=$TR_IN ;;
    /v1/parts/returns/*) id=$RETURN_ID ;;
    /v1/parts/loaners/*) id=LN-SH01-01 ;;
    /v1/settlement/charges/*) id=$T_PAID ;;
    /v1/settlement/invoices/*) id=$INVOICE ;;
    /v1/settlement/claims/*/*) id=CLM-NONE-$RUN ;;
    /v1/settlement/claims/*) id=$CLAIM ;;
    /v1/settlement/periods/*) id=$(TZ=Asia/Shanghai date +%Y-%m) ;;
    /v1/settlement/entries/*/reverse) id=999999999 ;;
    /v1/settlement/entries/*) id=$ENTRY ;;
    /v1/surveys/callbacks/*) id=$CALLBACK ;;
    /v1/complaints/*) id=$C_SH ;;
    /v1/customers/*) id=$CU_SH ;;
    /v1/devices/*) id=$IMEI_SH ;;
    /readyz/*) id=intake ;;
    *) id=none-$RUN ;;
    esac
    REQ_PATH=$(sed -E "s/\{[a-z_]+\}/$id/g" <<<"$REQ_PATH")
}

# call METHOD PATH TOKEN BODY [KEY] — one request; a POST without a body sends none.
call() {
    if [ -n "${5:-}" ]; then
        http "$1" "$2" "$3" "$4" -H "Idempotency-Key: $5"
    else
        http "$1" "$2" "$3" "$4"
    fi
}

ROUTES=$(api_routes)
UNKNOWN_INPUT=""
t_ok "the sweep covers $(wc -l <<<"$ROUTES" | tr -d ' ') routes x ${#ROLES[@]} roles"

# 4a. no token, or an unknown one: 401 (the health check needs none).
while IFS=$'\t' read -r method path roles _; do
    route_input "$method" "$path" admin
    call "$method" "$REQ_PATH" "" "$REQ_BODY"
    s1=$HTTP_STATUS
    call "$method" "$REQ_PATH" "not-a-token-$RUN" "$REQ_BODY"
    s2=$HTTP_STATUS
    if [ "$path" = /v1/auth/login ]; then
        # Public: signing in is how a caller gets credentials (people_accounts.sh tests it).
        if [ "$s1" = 400 ]; then
            t_ok "$method $path answers without a token (400 for an empty body)"
        else
            t_fail "$method $path answers without a token" "HTTP $s1"
        fi
    elif [[ $path =~ ^/v1/status/ ]]; then
        # Public: the customer's status page (status_page.sh tests it): no 401, but no ticket
        # either without the ticket's number and phone digits.
        if [[ "$s1 $s2" =~ ^(400|404)\ (400|404)$ ]]; then
            t_ok "$method $path answers without a token ($s1 without the phone's digits)"
        else
            t_fail "$method $path answers without a token" "no token: $s1, unknown token: $s2"
        fi
    elif [[ $path =~ ^/(healthz|livez|readyz) ]]; then
        if [[ $s1 =~ ^(200|503)$ ]]; then
            t_ok "$method $path answers without a token ($s1)"
        else
            t_fail "$method $path answers without a token" "HTTP $s1"
        fi
    elif [ "$s1 $s2" = "401 401" ]; then
        t_ok "$method $path: no token and an unknown token get 401"
    else
        t_fail "$method $path: no token and an unknown token get 401" "no token: $s1, unknown token: $s2"
    fi
done <<<"$ROUTES"

# 4b. roles outside the list: 403 from the gateway, and nothing reaches a service.
snapshot() {
    local t
    for t in "$T_SWEEP" "$T_PAID"; do
        http GET "/v1/tickets/$t" "$AS_TOKEN_ADMIN"
        jbody '[.state, .updated_at, (.timeline | length)] | map(tostring) | join(" ")'
    done
    http GET "/v1/complaints/$C_SH" "$AS_TOKEN_ADMIN"
    jbody '[.state, .severity, .owner, (.history | length)] | map(tostring) | join(" ")'
    for t in "$TR_OUT" "$TR_IN" "$TR_CANCEL"; do
        http GET "/v1/parts/transfers/$t" "$AS_TOKEN_ADMIN"
        jbody .state
    done
    http GET "/v1/warranty/reviews?status=pending&limit=200" "$AS_TOKEN_ADMIN"
    jbody "[.reviews[] | select(.id == $REVIEW) | .status] | join(\"\")"
    sql parts "SELECT count(*) FROM movements"
    sql settlement "SELECT count(*) FROM journal_entries"
    sql surveys "SELECT state FROM callbacks WHERE id = '$CALLBACK'"
}
state_before=$(snapshot)
n=0
while IFS=$'\t' read -r method path roles _; do
    [ "$roles" = - ] && continue # /healthz and /v1/auth/login need no token
    bad=""
    for role in "${ROLES[@]}"; do
        [[ ,$roles, == *",$role,"* ]] && continue
        n=$((n + 1))
        route_input "$method" "$path" "$role"
        call "$method" "$REQ_PATH" "${TOKEN[$role]}" "$REQ_BODY" "api-forbidden-$RUN-$n"
        code=$(jbody .error.code)
        [ "$HTTP_STATUS $code" = "403 forbidden" ] || bad+="$role: HTTP $HTTP_STATUS $code"$'\n'
    done
    if [ "$roles" = admin,region,center,warehouse,finance,reviewer ]; then
        t_ok "$method $path: open to every role"
    elif [ -z "$bad" ]; then
        t_ok "$method $path: roles outside [$roles] get 403"
    else
        t_fail "$method $path: roles outside [$roles] get 403" "${bad%$'\n'}"
    fi
done <<<"$ROUTES"
t_eq "the refused requests changed nothing (tickets, complaint, transfers, review, ledgers, callback)" \
    "$state_before" "$(snapshot)"
leaked=""
for svc in intake warranty parts settlement surveys; do
    c=$(sql "$svc" "SELECT (SELECT count(*) FROM commands WHERE request_id LIKE '%api-forbidden-$RUN-%')
                         + (SELECT count(*) FROM audit WHERE request_id LIKE '%api-forbidden-$RUN-%')
                         + (SELECT count(*) FROM outbox WHERE request_id LIKE '%api-forbidden-$RUN-%')")
    [ "$c" = 0 ] || leaked+="$svc: $c rows "
done
t_eq "none of the $n refused requests reached a service (no command, audit or outbox row)" "" "$leaked"

# 4c. allowed roles: served — not 403 (scope is respected by the inputs), never 5xx.
while IFS=$'\t' read -r method path roles _; do
    [ "$roles" = - ] && continue # /healthz and /v1/auth/login need no token
    bad=""
    seen=""
    for role in "${ROLES[@]}"; do
        [[ ,$roles, == *",$role,"* ]] || continue
        route_input "$method" "$path" "$role"
        call "$method" "$REQ_PATH" "${TOKEN[$role]}" "$REQ_BODY" "api-allowed-$RUN-$((++n))"
        code=$(jbody .error.code)
        seen+="$role $HTTP_STATUS${code:+ $code}, "
        if [ "$HTTP_STATUS" = 403 ] && [ "$path $code" = "/v1/surveys/test/clock test_mode_off" ]; then
            continue # documented: the test clock answers 403 test_mode_off outside test mode
        fi
        if [ "$HTTP_STATUS" = 403 ] || [[ $HTTP_STATUS =~ ^5 ]] || [ "$HTTP_STATUS" = 000 ]; then
            bad+="$role: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}"$'\n'
        fi
    done
    if [ -z "$bad" ]; then
        t_ok "$method $path: allowed roles are served (${seen%, })"
    else
        t_fail "$method $path: allowed roles are served, not refused and without 5xx" "${bad%$'\n'}"
    fi
done <<<"$ROUTES"
if [ -n "$UNKNOWN_INPUT" ]; then
    t_note "routes without chosen inputs (swept with {} / no query; add them to route_input):"$'\n'"$UNKNOWN_INPUT"
fi
t_done
