#!/usr/bin/env bash
# Parts: loaner units (备机). A centre lends one of its units to a ticket's customer and takes
# it back; the list says who holds which unit (phone masked); a unit is with one customer at a
# time and a ticket holds one unit at a time; other centres neither see nor touch the unit.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
U1="LN-T$RUN-1"
U2="LN-T$RUN-2"
T="T$RUN"

http POST /v1/parts/loaners "$AS_TOKEN_CENTER" "{\"serial\":\"$U1\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
t_status "a centre does not register loaner units" 403
for u in "$U1" "$U2"; do
    http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$u\",\"site\":\"SH01\",\"sku\":\"HX-LOANER\",\"model\":\"Huaxin HX-8\"}"
done
t_status "the warehouse registers two loaner units at SH01" 201
http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$U1\",\"site\":\"SH01\",\"model\":\"Huaxin HX-8\"}"
t_status "a serial is registered once" 409

http GET "/v1/parts/loaners?site=SH01&state=available" "$AS_TOKEN_CENTER"
t_status "the centre lists its available units" 200
t_jq "both new units are available" "[.loaners[] | select(.serial | startswith(\"LN-T$RUN\"))] | length" 2

http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\",\"phone\":\"13912345678\"}"
t_status "the centre lends a unit to a ticket's customer" 200
t_jq "the unit is lent to that ticket and customer" '"\(.state) \(.ticket_id) \(.customer)"' "lent $T Li Lei"
t_jq "the phone number is masked" .phone "*******5678"
http GET "/v1/parts/loaners?site=SH01&state=lent" "$AS_TOKEN_CENTER"
t_jq "the list says who holds the unit" ".loaners[] | select(.serial == \"$U1\") | \"\\(.ticket_id) \\(.customer) \\(.days_out)\"" "$T Li Lei 0"

http POST "/v1/parts/loaners/$U1/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"X$RUN\",\"customer\":\"Han Meimei\"}"
t_status "a lent unit cannot be lent again" 409
t_jq "the refusal names the holder" ".error.message | test(\"$T\")" true
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\"}"
t_status "a ticket holds one unit at a time" 409
t_jq "the refusal says so" .error.code ticket_has_loaner
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"Y$RUN\"}"
t_status "lending needs the customer" 400

http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER_B" "{\"ticket_id\":\"Z$RUN\",\"customer\":\"Zhang San\"}"
t_status "another centre cannot lend SH01's unit (it does not see it)" 404
http GET /v1/parts/loaners "$AS_TOKEN_CENTER_B"
t_jq "another centre's list holds only its own units" '[.loaners[].site] | unique | join(",")' GZ01
http GET /v1/parts/loaners "$AS_TOKEN_REGION"
t_jq "a region lists its region's units" '[.loaners[].site] | unique | join(",")' "SH01,SH02"
http GET "/v1/parts/loaners?site=SH01" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse lists every site's units" 200

http POST "/v1/parts/loaners/$U1/return" "$AS_TOKEN_CENTER"
t_status "the customer brings the unit back" 200
t_jq "the unit is available again, with no holder" '"\(.state) \(.ticket_id)"' "available null"
http POST "/v1/parts/loaners/$U1/return" "$AS_TOKEN_CENTER" '{}'
t_status "an available unit cannot be returned" 409
http POST "/v1/parts/loaners/$U2/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$T\",\"customer\":\"Li Lei\"}"
t_status "after the return the ticket may hold another unit" 200
http POST "/v1/parts/loaners/$U2/return" "$AS_TOKEN_CENTER" '{"note":"scratched back cover"}'
t_status "and give it back" 200
t_done
