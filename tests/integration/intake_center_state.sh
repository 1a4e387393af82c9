#!/usr/bin/env bash
# intake: a centre opened through /v1/centers takes tickets; once suspended (or closed) it takes
# no new ones — 409 with the centre's state in the error — and changes nothing; reopened, it
# takes tickets again. intake learns the state from the people service's CenterChanged events.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
REGION=rs$RUN
CENTER=CS$RUN
PHONE=1390$(printf '%07d' $((RUN % 10000000)))

ticket() { # a fresh device for this script's customer at the test centre
    jq -nc --arg imei "$(new_imei)" --arg c "$CENTER" --arg ph "$PHONE" \
        --arg inv "$(TZ=Asia/Shanghai date -d '-20 days' +%F)" '{
      center: $c, customer: {name: "Qian Wei", phone: $ph},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"}'
}
# open_until STATUS — POST a ticket until the answer is STATUS (intake follows the people
# stream, so a change reaches it a moment after the people service answered), at most ~10 s.
open_until() {
    local i
    for i in $(seq 1 40); do
        http POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket)"
        [ "$HTTP_STATUS" = "$1" ] && return 0
        sleep 0.25
    done
}
count_tickets() {
    http GET "/v1/tickets?phone=$PHONE&limit=200" "$AS_TOKEN_ADMIN"
    jbody '.tickets | length'
}

http POST /v1/regions "$AS_TOKEN_ADMIN" "{\"code\":\"$REGION\",\"name\":\"Suspension test $RUN\"}"
t_status "a region for the test" 201
http POST /v1/centers "$AS_TOKEN_ADMIN" "{\"code\":\"$CENTER\",\"name\":\"Centre $RUN\",\"region\":\"$REGION\"}"
t_status "a centre opened through the API" 201

open_until 201
t_status "the open centre takes a ticket" 201
t_eq "the ticket is the centre's" "$CENTER" "$(jbody .center)"

http POST "/v1/centers/$CENTER/suspend" "$AS_TOKEN_ADMIN" '{"reason":"renovation"}'
t_status "the centre is suspended" 200
open_until 409
t_status "a new ticket at the suspended centre is 409" 409
t_eq "the error code names the state" center_suspended "$(jbody .error.code)"
t_match "the message names the centre and its state" "$CENTER is suspended" "$(jbody .error.message)"
before=$(count_tickets)
http POST /v1/tickets "$AS_TOKEN_ADMIN" "$(ticket)"
t_status "refused again" 409
t_eq "a refused ticket changes nothing" "$before" "$(count_tickets)"
http GET "/v1/centers?region=$REGION" "$AS_TOKEN_ADMIN"
t_eq "the centre list shows the state" suspended "$(jbody ".centers[] | select(.code == \"$CENTER\") | .state")"

http POST "/v1/centers/$CENTER/reopen" "$AS_TOKEN_ADMIN" '{}'
t_status "the centre is reopened" 200
open_until 201
t_status "the reopened centre takes tickets again" 201

http POST "/v1/centers/$CENTER/close" "$AS_TOKEN_ADMIN" '{"reason":"lease ended"}'
t_status "the centre is closed" 200
open_until 409
t_status "a new ticket at the closed centre is 409" 409
t_eq "the error code says closed" center_closed "$(jbody .error.code)"

t_done
