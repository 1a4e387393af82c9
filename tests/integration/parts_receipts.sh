#!/usr/bin/env bash
# Parts: goods receipts, one line or a CSV file (body field `csv`, header site,sku,qty,note).
# A good file is applied whole, quotes and all; a file with one bad row applies nothing and the
# answer names the row (and every other bad row with it).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

q() { sql parts "$1"; } # as the parts service, errors shown
RUN=$RANDOM$RANDOM
A="T$RUN-CSVA"
B="T$RUN-CSVB"
for s in "$A" "$B"; do
    http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
        "{\"sku\":\"$s\",\"name\":\"receipt test part\",\"brand\":\"DriveCo\",\"unit_cost_cents\":500,\"list_price_cents\":900}"
done
t_status "two test SKUs are added" 201

# csv_post TOKEN TEXT — POST the text as the body field csv.
csv_post() {
    http POST /v1/parts/receipts "$1" "$(jq -nc --arg c "$2" '{csv: $c}')"
}
# units SITE SKU — on hand, straight from the balance table.
units() {
    q "SELECT coalesce((SELECT on_hand FROM stock WHERE site = '$1' AND sku = '$2'), 0)"
}
movements() {
    q "SELECT count(*) FROM movements WHERE sku IN ('$A', '$B')"
}

# --- a good file ---
good=$'site,sku,qty,note\r\n'"WH01,$A,10,\"PO 2026-118, box \"\"A\"\"\""$'\r\n'"WH01,$B,4,PO 2026-118"$'\r\n\r\n'"SH01,$A,2"$'\n'
csv_post "$AS_TOKEN_WAREHOUSE" "$good"
t_status "a good CSV file is received" 201
t_jq "every row was applied" '"\(.rows)/\(.units)"' "3/16"
t_jq "each row is one receipt movement, in file order" '[.movements[] | "\(.site):\(.sku|split("-")[1]):\(.qty)"] | join(",")' \
    "WH01:CSVA:10,WH01:CSVB:4,SH01:CSVA:2"
t_jq "a quoted note keeps its comma and quotes" '.movements[0].note' 'PO 2026-118, box "A"'
t_eq "the stock shows the receipt" "10/4/2" "$(units WH01 "$A")/$(units WH01 "$B")/$(units SH01 "$A")"
n0=$(movements)

# --- one bad row: nothing applied, the row named ---
bad=$'site,sku,qty,note\n'"WH01,$A,5,ok"$'\n'"WH01,$B,3,ok"$'\n'"WH01,T$RUN-NOSUCH,1,typo"$'\n'"SH01,$A,1,ok"$'\n'
csv_post "$AS_TOKEN_WAREHOUSE" "$bad"
t_status "a file with one unknown SKU is refused" 400
t_jq "the answer names the bad row" '.error.fields | map(.field) | join(",")' "csv.row[3].sku"
t_jq "the message says which row and why" '.error.message | test("row 3 \\(line 4\\): SKU T[0-9]+-NOSUCH is not in the catalogue")' true
t_eq "nothing of the file was applied" "$n0" "$(movements)"
t_eq "the good rows did not move the stock either" "10/4/2" "$(units WH01 "$A")/$(units WH01 "$B")/$(units SH01 "$A")"

# --- several problems: all named at once, syntax and catalogue alike ---
worse=$'site,sku,qty,note\n'"WH01,$A,5,ok"$'\n'"WH01,$A,five,bad qty"$'\n'"XX99,$A,1,no such site"$'\n'"WH01,$A,1,x,extra"$'\n'"WH01,$B,0,zero"$'\n'
csv_post "$AS_TOKEN_WAREHOUSE" "$worse"
t_status "a file with several bad rows is refused" 400
t_jq "every bad row is named, in row order" '.error.fields | map(.field) | join(",")' \
    "csv.row[2].qty,csv.row[3].site,csv.row[4],csv.row[5].qty"
t_jq "the count of problems is in the message" '.error.message | test("4 problems")' true
t_eq "still nothing applied" "$n0" "$(movements)"

# --- a centre's file may only touch its own site ---
mixed=$'site,sku,qty,note\n'"SH01,$A,1,ok"$'\n'"WH01,$A,1,not mine"$'\n'
csv_post "$AS_TOKEN_CENTER" "$mixed"
t_status "a centre's file with a row for the warehouse is refused" 400
t_jq "the answer names the row out of scope" '.error.fields[0].field + " " + .error.fields[0].problem' \
    "csv.row[2].site row 2 (line 3): you may not receive stock at site WH01"
t_eq "the centre's own row was not applied either" 2 "$(units SH01 "$A")"

# --- the shape of the file and of the request ---
csv_post "$AS_TOKEN_WAREHOUSE" $'site,part,qty\nWH01,X,1\n'
t_status "a header with an unknown column is refused" 400
t_jq "the header is named" '.error.fields[0].field' csv.header
csv_post "$AS_TOKEN_WAREHOUSE" $'site,sku,qty,note\n'
t_status "a file with a header and no rows is refused" 400
csv_post "$AS_TOKEN_WAREHOUSE" $'site,sku,qty,note\n'"WH01,$A,1,\"never closed"$'\n'
t_status "an unterminated quote is refused" 400
t_jq "the unterminated quote is named by row" '.error.fields[0].field' "csv.row[1]"
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"csv\":\"site,sku,qty\\nWH01,$A,1\",\"site\":\"WH01\"}"
t_status "a file and a single line in one request are refused" 400
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$A\",\"qty\":1,\"colour\":\"red\"}"
t_status "an unknown body field is refused" 400
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"T$RUN-NOSUCH\",\"qty\":1}"
t_status "a single receipt of an unknown SKU is refused" 400
t_jq "the field is named" '.error.fields[0].field' sku
t_eq "the refusals left the ledger alone" "$n0" "$(movements)"

# --- a single line ---
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"WH01\",\"sku\":\"$B\",\"qty\":6,\"note\":\"PO 2026-119\"}"
t_status "a single receipt line is received" 201
t_eq "it adds to the stock" 10 "$(units WH01 "$B")"
t_eq "the ledger holds after the receipts" t "$(q "SELECT ledger_ok()")"
t_done
