#!/usr/bin/env bash
# Settlement finance export: GET /v1/settlement/export streams the ledger's lines as CSV
# (header row, UTF-8, RFC 4180 quoting, cents and decimal yuan) or JSON, page by page; its
# totals equal the ledger's; a cursor (`after`) gives only what was posted since; `from`/`to`
# select posting dates; finance only.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# export_to FILE QUERY [CURL ARGS] — the export with QUERY into FILE; headers into FILE.h.
export_to() {
    local f=$1 qs=$2
    shift 2
    curl -sS --max-time 120 -D "$f.h" -o "$f" -w '%{http_code}' "$@" \
        -H "Authorization: Bearer $AS_TOKEN_FINANCE" "$AS_GATEWAY_URL/v1/settlement/export?$qs"
}
header() { grep -i "^$2:" "$1.h" | head -1 | cut -d: -f2- | tr -d ' \r'; }

# csv_check FILE HEAD — load FILE with PostgreSQL's own CSV parser and compare it with the
# ledger up to entry HEAD: "rows debits credits bad-yuan-rows | rows debits credits".
csv_check() {
    sq -v head="$2" <<SQL
BEGIN;
CREATE TABLE export_probe_$T (cursor text, entry_no bigint, line_no int, business_date date,
    posting_date date, posting_period text, kind text, account text, account_name text,
    debit_cents bigint, credit_cents bigint, debit_yuan numeric, credit_yuan numeric,
    currency text, ticket_id text, invoice_no text, claim_id text, center text, region text,
    manufacturer text, payer text, memo text, reverses bigint);
\\copy export_probe_$T FROM '$1' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
SELECT (SELECT count(*) || ' ' || sum(debit_cents) || ' ' || sum(credit_cents) || ' ' ||
               count(*) FILTER (WHERE debit_yuan * 100 <> debit_cents OR credit_yuan * 100 <> credit_cents)
        FROM export_probe_$T) || ' | ' ||
       (SELECT count(*) || ' ' || sum(debit_cents) || ' ' || sum(credit_cents)
        FROM journal_lines WHERE entry_no <= :head);
ROLLBACK;
SQL
}

# --- something to export: a paid repair, and a reversal whose memo needs quoting ---
completed "$(repair_event "EX1-$T" SH01 customer 2026-09-09)" >/dev/null
e1=$(q "SELECT entry_no FROM journal_entries WHERE source_key = 'charge:EX1-$T'")
reason="price typo, customer said \"too high\""
http POST "/v1/settlement/entries/$e1/reverse" "$AS_TOKEN_FINANCE" "$(jq -nc --arg r "$reason" '{reason: $r}')"
t_status "a reversal with a comma and quotes in its memo is posted" 201

# --- CSV ---
code=$(export_to "$TMP/all.csv" "format=csv")
t_eq "finance exports the ledger as CSV" 200 "$code"
t_match "the CSV is UTF-8 text with a header row" "text/csv;charset=utf-8" "$(header "$TMP/all.csv" Content-Type)"
t_eq "it is streamed (chunked)" chunked "$(header "$TMP/all.csv" Transfer-Encoding)"
head=$(header "$TMP/all.csv" X-Export-Head)
t_match "the response names the ledger head it covers" '^[0-9]+$' "$head"
t_eq "the header row names the columns" \
    "cursor,entry_no,line_no,business_date,posting_date,posting_period,kind,account,account_name,debit_cents,credit_cents,debit_yuan,credit_yuan,currency,ticket_id,invoice_no,claim_id,center,region,manufacturer,payer,memo,reverses" \
    "$(head -1 "$TMP/all.csv" | tr -d '\r')"
t_eq "lines end in CRLF" 0 "$(grep -vc $'\r$' "$TMP/all.csv" || true)"
t_check "the reversal's memo is quoted with its quotes doubled" \
    grep -qF "\"reversal of entry $e1: price typo, customer said \"\"too high\"\"\"" "$TMP/all.csv"
t_check "account names keep their Chinese (UTF-8)" grep -q "应收账款-客户" "$TMP/all.csv"
res=$(csv_check "$TMP/all.csv" "$head")
t_eq "CSV rows, debits and credits equal the ledger's; every yuan column equals its cents" \
    "${res#* | } 0 | ${res#* | }" "$res"
t_eq "the CSV parses back to the exact memo" "reversal of entry $e1: $reason" \
    "$(sq <<SQL
BEGIN;
CREATE TABLE export_memo_$T (cursor text, entry_no bigint, line_no int, d1 text, d2 text, p text, kind text,
    account text, an text, dc bigint, cc bigint, dy text, cy text, cur text, t text, i text, cl text,
    ce text, r text, m text, py text, memo text, rv text);
\\copy export_memo_$T FROM '$TMP/all.csv' WITH (FORMAT csv, HEADER true)
SELECT DISTINCT memo FROM export_memo_$T WHERE kind = 'reversal' AND rv = '$e1';
ROLLBACK;
SQL
)"

# --- JSON ---
code=$(export_to "$TMP/all.json" "format=json")
t_eq "finance exports the ledger as JSON" 200 "$code"
t_eq "the JSON export is one valid document" true "$(jq -e 'has("rows")' "$TMP/all.json" 2>/dev/null || echo false)"
jhead=$(jq .head "$TMP/all.json")
t_eq "JSON totals equal the ledger's up to its head" \
    "$(q "SELECT count(*) || ' ' || sum(debit_cents) || ' ' || sum(credit_cents) FROM journal_lines WHERE entry_no <= $jhead")" \
    "$(jq -r '"\(.count) \([.rows[].debit_cents] | add) \([.rows[].credit_cents] | add)"' "$TMP/all.json")"
t_eq "each row has its amounts in decimal yuan too" 0 \
    "$(jq '[.rows[] | select((.debit_yuan | sub("\\."; "") | tonumber) != .debit_cents or (.credit_yuan | sub("\\."; "") | tonumber) != .credit_cents)] | length' "$TMP/all.json")"
cursor=$(jq -r .next "$TMP/all.json")
t_eq "next is the last row's cursor" "$(jq -r '.rows[-1].cursor' "$TMP/all.json")" "$cursor"

# --- incremental: only what was posted after the cursor ---
completed "$(repair_event "EX2-$T" SH01 customer 2026-09-10)" >/dev/null
closed "{\"ticket_id\":\"EX2-$T\",\"center\":\"SH01\",\"outcome\":\"repaired\",\"closed_date\":\"2026-09-11\"}" >/dev/null
code=$(export_to "$TMP/inc.json" "format=json&after=$cursor")
t_eq "an export after a cursor answers" 200 "$code"
ihead=$(jq .head "$TMP/inc.json")
t_eq "it holds exactly the lines posted since, with their totals" \
    "$(q "SELECT count(*) || ' ' || sum(debit_cents) || ' ' || sum(credit_cents) FROM journal_lines WHERE entry_no > $jhead AND entry_no <= $ihead")" \
    "$(jq -r '"\(.count) \([.rows[].debit_cents] | add) \([.rows[].credit_cents] | add)"' "$TMP/inc.json")"
t_eq "the new ticket's charge and payment are in it" "charge,customer_payment" \
    "$(jq -r "[.rows[] | select(.ticket_id == \"EX2-$T\") | .kind] | unique | join(\",\")" "$TMP/inc.json")"
code=$(export_to "$TMP/none.json" "format=json&after=$(jq -r .next "$TMP/inc.json")")
t_eq "an export after the newest cursor is empty and keeps the cursor" "0 $(jq -r .next "$TMP/inc.json")" \
    "$(jq -r '"\(.count) \(.next)"' "$TMP/none.json")"

# --- by posting date ---
code=$(export_to "$TMP/day.csv" "format=csv&from=2026-09-10&to=2026-09-11")
t_eq "a date range exports only its posting dates" \
    "$(q "SELECT count(*) FROM journal_lines l JOIN journal_entries e USING (entry_no) WHERE e.posting_date BETWEEN '2026-09-10' AND '2026-09-11'")" \
    "$(($(wc -l <"$TMP/day.csv") - 1))"
t_eq "every exported row is inside the range" 0 \
    "$(tail -n +2 "$TMP/day.csv" | cut -d, -f5 | grep -vc '^2026-09-1[01]$' || true)"

# --- a large export, read slowly: paged and streamed with back-pressure ---
# (Ten per transaction, two sessions at once: short transactions, as the consumer makes them —
# a long one would hold the outbox and ledger head rows and stall the service meanwhile.)
for half in 0 1; do
    for b in $(seq $((half * 60 + 1)) $((half * 60 + 60))); do
        echo "SELECT count(on_repair_completed(jsonb_build_object(
            'ticket_id', 'BULK-$T-' || i, 'center', 'SH02', 'region', 'east', 'category', 'phone_host',
            'manufacturer', 'HUAXIN', 'labour_code', 'L-BOARD', 'payer', 'customer',
            'parts_used', jsonb_build_array(jsonb_build_object('sku', 'HX10-SCREEN', 'qty', 1)),
            'completed_at', '2026-09-12T03:00:00Z'))) FROM generate_series($((b * 10 - 9)), $((b * 10))) i;"
    done >"$TMP/bulk$half.sql"
done
sq -f "$TMP/bulk0.sql" >/dev/null &
sq -f "$TMP/bulk1.sql" >/dev/null &
wait
out=$(q "SELECT count(*) FROM charge_sets WHERE ticket_id LIKE 'BULK-$T-%'")
t_eq "1200 more repairs are charged" 1200 "$out"
code=$(export_to "$TMP/big.csv" "format=csv" --limit-rate 2M)
t_eq "the whole ledger streams to a slow reader" 200 "$code"
bhead=$(header "$TMP/big.csv" X-Export-Head)
res=$(csv_check "$TMP/big.csv" "$bhead")
t_eq "the large CSV's rows and totals equal the ledger's" "${res#* | } 0 | ${res#* | }" "$res"
# This test's own 1200 repairs post 4 lines each: at least 4800 rows whatever ran before it.
t_eq "more than four pages of 1000 rows were streamed" true "$([ "$(wc -l <"$TMP/big.csv")" -gt 4800 ] && echo true || echo false)"

# --- who may export, and what is refused ---
http GET "/v1/settlement/export?format=csv" "$AS_TOKEN_ADMIN"
t_status "admin may not export (finance only)" 403
http GET "/v1/settlement/export" "$AS_TOKEN_CENTER"
t_status "a centre may not export" 403
http GET "/v1/settlement/export" ""
t_status "no token, no export" 401
http GET "/v1/settlement/export?format=xml" "$AS_TOKEN_FINANCE"
t_status "an unknown format is refused" 400
http GET "/v1/settlement/export?from=2026-02-30" "$AS_TOKEN_FINANCE"
t_status "an impossible date is refused before anything is sent" 400
http GET "/v1/settlement/export?after=banana" "$AS_TOKEN_FINANCE"
t_status "a cursor that is not one is refused" 400
t_ledger_balanced "the ledger balances at the end"
t_done
