# shellcheck shell=bash
# deploy/demo/day/summary.sh — the end of the demo day (sourced by deploy/demo/day.sh): read
# back what the services recorded about this run's tickets and print the figures a manager
# watches, then reconcile the money the settlement service charged with the finance export CSV.
#
# Uses from day.sh: OUT (tickets.tsv, answers.tsv, claims_paid.tsv, export.csv), TID,
# COMPLAINT, REVIEW_ID, TRANSFER_SHORTAGE, ESCALATIONS, TODAY, RUN_NO.
# Writes OUT/tickets.json, OUT/summary.txt (what is printed) and OUT/summary.json.

summary_main() {
    local t key center
    # ---- what the services say about each ticket ----
    : >"$OUT/tickets.jsonl"
    while IFS=$'\t' read -r key t center; do
        ticket_get "$t"
        jb --arg key "$key" -c '{key: $key, id, center, state, outcome: (.work.outcome // .state),
            category: .device.category, brand: .device.brand, device: (.device.imei // .device.vin // ((.device.brand // "") + "/" + (.device.serial // ""))),
            repeat_repair: (.repeat_repair // false), opened_at,
            ready_at: ([.timeline[] | select(.event == "repair_completed") | .at][0]),
            decision: (.decision | {status, remedy, free})}' >>"$OUT/tickets.jsonl"
    done <"$OUT/tickets.tsv"
    jq -s . "$OUT/tickets.jsonl" >"$OUT/tickets.json"
    rm -f "$OUT/tickets.jsonl"

    chapter "Summary of the day $TODAY (run $RUN_NO)"

    # ---- tickets by outcome ----
    local total
    total=$(jq length "$OUT/tickets.json")
    printf '\nTickets by outcome (%s tickets opened today in 4 centres, 2 regions; closed tickets show how they ended)\n' "$total"
    jq -r 'group_by(.outcome) | map({o: .[0].outcome, n: length, c: ([.[].center] | unique | join(" "))})
           | sort_by(-.n) | .[] | "  \(.o | .+ (" " * (15 - length)))\(.n | tostring | (" " * (3 - length)) + .)   \(.c)"' \
        "$OUT/tickets.json"
    printf '  %s\n' "$(jq -r '[group_by(.center)[] | "\(.[0].center) \(length)"] | join(", ")' "$OUT/tickets.json") tickets by centre"

    # ---- turnaround: intake to ready ----
    local ta
    ta=$(jq -c '[.[] | select(.ready_at) | ((.ready_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)
                                          - (.opened_at | sub("\\.[0-9]+Z$"; "Z") | fromdate))] | sort
                | {n: length, median: (if length > 0 then .[(length / 2 | floor)] else 0 end),
                   max: (max // 0), mean: (if length > 0 then (add / length | floor) else 0 end)}' "$OUT/tickets.json")
    printf '\nTurnaround, intake to ready (%s repairs): median %ss, mean %ss, longest %ss\n' \
        "$(jq .n <<<"$ta")" "$(jq .median <<<"$ta")" "$(jq .mean <<<"$ta")" "$(jq .max <<<"$ta")"
    printf '  (the demo plays a day in minutes; the longest is the repair that waited for a transfer)\n'

    # ---- first-time fix ----
    local repaired back ftf
    repaired=$(jq '[.[] | select(.outcome == "repaired")] | length' "$OUT/tickets.json")
    back=$(jq '. as $all | [ .[] | select(.outcome == "repaired") as $a
                | select(any($all[]; .device == $a.device and .repeat_repair and .opened_at > $a.opened_at)) ] | length' \
        "$OUT/tickets.json")
    ftf=$((repaired - back))
    printf '\nFirst-time fix: %s of %s repaired devices did not come back (%s)\n' "$ftf" "$repaired" "$(pct "$ftf" "$repaired")"
    jq -r '. as $all | .[] | select(.outcome == "repaired") as $a
           | $all[] | select(.device == $a.device and .repeat_repair and .opened_at > $a.opened_at)
           | "  came back: \($a.id) -> \(.id) (\(.center), same device)"' "$OUT/tickets.json"

    # ---- parts fill rate ----
    local lines=0 filled=0 n f via=""
    for t in $(jq -r '.[] | select(.outcome != "cancelled") | .id' "$OUT/tickets.json"); do
        must GET "/v1/parts/reservations?ticket_id=$t" admin
        IFS=$'\t' read -r n f < <(jb '[(.reservations | length), ([.reservations[] | select(.transfer_id == null)] | length)] | @tsv')
        lines=$((lines + n))
        filled=$((filled + f))
        if [ "$f" != "$n" ]; then
            via+=$(jb '.reservations[] | select(.transfer_id) | "\n  \(if .state == "backordered" then "backordered, on its way" else "backordered, then filled" end) by transfer \(.transfer_id) from WH01: \(.sku) for \(.ticket_id) at \(.site)"')
        fi
    done
    printf '\nParts fill rate: %s of %s part lines served at once from the centre'"'"'s own stock (%s)' \
        "$filled" "$lines" "$(pct "$filled" "$lines")"
    printf '%b\n' "$via"

    # ---- satisfaction by centre ----
    printf '\nSatisfaction by centre (weighted score 1-5)\n'
    must GET "/v1/reports/satisfaction?group=center&from=$TODAY&to=$(sh_date '+3 days')" admin
    local report=$API_BODY
    printf '  %-6s  %-22s  %s\n' centre "this run: answers score" "surveys report, today: responses score NPS response-rate"
    for center in SH01 SH02 GZ01 GZ02; do
        local mine
        mine=$(awk -F'\t' -v c="$center" '$2 == c { gsub(/\./, "", $3); s += $3; n++ }
            END { if (n) printf "%d  %d.%03d", n, int(s / n / 1000), int(s / n) % 1000; else printf "0  -" }' \
            "$OUT/answers.tsv" 2>/dev/null)
        printf '  %-6s  %-22s  %s\n' "$center" "$mine" \
            "$(jq -r --arg c "$center" '.rows[] | select(.key == $c) | "\(.responses)  \(.weighted_score)  \(.nps)  \(.response_rate // "-")"' <<<"$report")"
    done

    # ---- complaints ----
    printf '\nComplaints opened today: %s (%s from low callback scores), %s escalation(s)\n' \
        "${#COMPLAINT[@]}" $((${#COMPLAINT[@]} - 1)) "$ESCALATIONS"
    local c
    for c in "${COMPLAINT[@]}"; do
        must GET "/v1/complaints/$c" admin
        printf '  %s\n' "$(jb '"\(.id)  \(.center)  \(.severity)/\(.state)  level \(.level)  cause \(.cause)  channel \(.channel)\(if .overdue then "  OVERDUE" else "" end)"')"
        printf '      %s\n' "$(jb '[.deadlines[] | select(.met_at == null) | "\(.kind) due \(.due_at)"] | if length > 0 then "open deadlines: " + join(", ") else "no open deadline" end')"
    done
    if [ -n "$REVIEW_ID" ]; then
        printf '\nDuplicate claim: review %s of %s overridden by the reviewer (denied), ticket cancelled\n' \
            "$REVIEW_ID" "${TID[camera_dup]}"
    fi

    # ---- the hotline, the on-site visit, the notifications ----
    local ncalls
    ncalls=$(wc -l <"$OUT/calls.tsv")
    printf '\nHotline: %s call(s) recorded by this run (%s); all calls today: %s\n' "$ncalls" \
        "$(cut -f2 "$OUT/calls.tsv" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')" \
        "$(jq -r '"\(.total) (\([.by_category[] | "\(.key) \(.count)"] | join(", ")))"' <<<"$CALL_STATS")"
    printf '  the complaint call opened complaint %s\n' "${CALL_COMPLAINT:--}"
    ONSITE="{}"
    if [ -n "$ORDER" ]; then
        must GET "/v1/service-orders/$ORDER" admin
        ONSITE=$(jb -c '{order: .id, state, technician, distance_km, payer, call_id, center}')
        api GET "/v1/settlement/charges/$ORDER" finance
        if [ "$API_STATUS" = 200 ]; then
            ONSITE=$(jq -c --argjson c "$API_BODY" '. + {travel_cents: ([$c.lines[] | select(.code == "TRAVEL") | .amount_cents] | add // 0),
                customer_cents: $c.customer_cents, manufacturer_cents: $c.manufacturer_cents}' <<<"$ONSITE")
        fi
        printf '\nOn-site: %s, travel fee %s yuan (%s yuan with VAT) paid by the %s\n' \
            "$(jq -r '"\(.order) at \(.center) from call \(.call_id): \(.state) by \(.technician), \(.distance_km) km"' <<<"$ONSITE")" \
            "$(yuan "$(jq -r '.travel_cents // 0' <<<"$ONSITE")")" \
            "$(yuan "$(jq -r '(.customer_cents // 0) + (.manufacturer_cents // 0)' <<<"$ONSITE")")" "$(jq -r .payer <<<"$ONSITE")"
    fi
    printf '\nNotifications in the outbox for the day'"'"'s tickets: %s%s\n' "$NOTIFS" \
        "$(if [ "$NOTIFS" -eq 0 ]; then echo " (no channel configured on this stack)"; fi)"

    # ---- the reports agree with the day's tickets ----
    # The reports count everything of the day (earlier runs and other desks too): each must hold
    # at least this run's tickets.
    QUALITY_CHECK=$(jq -c --argjson q "$QUALITY" '[group_by(.brand)[] | {brand: .[0].brand, day: ([.[] | select(.ready_at)] | length)}]
        | map(.brand as $b | .report = ([$q.by_brand[]? | select(.key == $b) | .count] | add // 0))
        | {brands: map({key: .brand, value: {day: .day, report: .report}}) | from_entries,
           agrees: all(.report >= .day)}' "$OUT/tickets.json")
    SCORE_CHECK=$(jq -c --argjson s "$SCORECARD" 'group_by(.center) | map({center: .[0].center, day: length})
        | map(.center as $c | . + {row: ([$s.rows[]? | select(.center == $c)] | .[0])})
        | {centers: map({key: .center, value: {day: .day, tickets: (.row.tickets // null), score: (.row.score // null)}}) | from_entries,
           agrees: all(.row != null and .row.tickets >= .day)}' "$OUT/tickets.json")
    printf '\nQuality report today, completed repairs by brand (report >= this run): %s  -> %s\n' \
        "$(jq -r '[.brands | to_entries[] | "\(.key) \(.value.report) >= \(.value.day)"] | join(", ")' <<<"$QUALITY_CHECK")" \
        "$(jq -r 'if .agrees then "agrees" else "DISAGREES" end' <<<"$QUALITY_CHECK")"
    printf 'Scorecard today, tickets by centre (scorecard >= this run): %s  -> %s\n' \
        "$(jq -r '[.centers | to_entries[] | "\(.key) \(.value.tickets // "missing") >= \(.value.day)"] | join(", ")' <<<"$SCORE_CHECK")" \
        "$(jq -r 'if .agrees then "agrees" else "DISAGREES" end' <<<"$SCORE_CHECK")"

    # ---- money: the settlement service vs the finance export ----
    reconcile
}

# reconcile — per payer, what settlement charged this run's tickets (its API) against the
# finance export CSV's ledger lines for the same tickets; customer cash and claim payments too.
reconcile() {
    local t api_c=0 api_m=0 api_co=0 api_s=0 cash=0 claims=0 api_tr=0
    # The day's tickets and its on-site order (the travel fee is a charge set keyed by the order).
    for t in $(jq -r '.[].id' "$OUT/tickets.json") $(cat "$OUT/orders.txt" 2>/dev/null); do
        api GET "/v1/settlement/charges/$t" finance
        case $API_STATUS in
        200) ;;
        404) continue ;; # cancelled before any work: nothing to charge
        *) die "charges of $t: $API_STATUS ${API_BODY:0:300}" ;;
        esac
        local c m co se outcome
        IFS=$'\t' read -r c m co se outcome < <(jb '[.customer_cents, .manufacturer_cents, .company_cents,
            .seller_cents, (.closed_outcome // "-")] | @tsv')
        api_c=$((api_c + c))
        api_m=$((api_m + m))
        api_co=$((api_co + co))
        api_s=$((api_s + se))
        if [ "$outcome" = repaired ]; then cash=$((cash + c)); fi
        if grep -qx "$t" "$OUT/orders.txt" 2>/dev/null; then api_tr=$((api_tr + c + m)); fi
    done
    if [ -s "$OUT/claims_paid.tsv" ]; then
        claims=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$OUT/claims_paid.tsv")
    fi

    # The export: ledger lines of this run's tickets. A ticket's charge entry debits what each
    # payer owes (customer 1122, manufacturer 1124, company 6601, seller 6603); a refund after a
    # repair is a separate seller entry; the customer's payment at hand-back debits the account
    # of its method (1001 when unspecified); a refund payout clears 2241; a manufacturer's
    # payment of a claim is cash against its claim id.
    local sums
    { jq -r '.[].id' "$OUT/tickets.json"; cat "$OUT/orders.txt" 2>/dev/null; } >"$OUT/run-tickets.txt"
    cut -f1 "$OUT/claims_paid.tsv" 2>/dev/null >"$OUT/run-claims.txt" || : >"$OUT/run-claims.txt"
    sums=$(csv_to_tsv <"$OUT/export.csv" | awk -F'\t' -v tf="$OUT/run-tickets.txt" -v cf="$OUT/run-claims.txt" -v of="$OUT/orders.txt" '
        BEGIN { while ((getline x < tf) > 0) T[x] = 1; while ((getline x < cf) > 0) C[x] = 1
                while ((getline x < of) > 0) O[x] = 1 }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; rows = 0; next }
        {
            rows++
            kind = $col["kind"]; acct = $col["account"]; d = $col["debit_cents"] + 0
            if (($col["ticket_id"] in T) && (kind == "charge" || kind == "seller_refund")) {
                if (acct == "1122") cu += d; else if (acct == "1124") ma += d
                else if (acct == "6601") co += d; else if (acct == "6603") se += d
                if (($col["ticket_id"] in O) && (acct == "1122" || acct == "1124")) tr += d
            }
            if (($col["ticket_id"] in T) && kind == "customer_payment") cash += d
            if (($col["ticket_id"] in T) && kind == "refund_payout" && acct == "2241") rp += d
            if (($col["claim_id"] in C) && kind == "claim_payment" && acct == "1001") cl += d
            dt += d; ct += $col["credit_cents"] + 0
        }
        END { printf "%d %d %d %d %d %d %d %d %d %d %d\n", cu, ma, co, se, cash, cl, rows, dt, ct, rp, tr }')
    local -a x
    read -r -a x <<<"$sums"
    local ok=yes line
    printf '\nSettlement, this run'"'"'s tickets and on-site order (yuan)    charged (settlement API)    export CSV (%s rows, %s)\n' \
        "${x[6]}" "$(basename "$OUT/export.csv")"
    row() { # LABEL API CSV
        local mark=""
        if [ "$2" != "$3" ]; then
            mark="   <- differs"
            ok=no
        fi
        printf '  %-38s %24s %24s%s\n' "$1" "$(yuan "$2")" "$(yuan "$3")" "$mark"
    }
    row "customer (incl. VAT)" "$api_c" "${x[0]}"
    row "manufacturer (warranty claims)" "$api_m" "${x[1]}"
    row "company (goodwill)" "$api_co" "${x[2]}"
    row "seller (refunds and exchanges)" "$api_s" "${x[3]}"
    row "total" $((api_c + api_m + api_co + api_s)) $((x[0] + x[1] + x[2] + x[3]))
    row "  of which on-site travel fees" "$api_tr" "${x[10]}"
    row "customer payments at hand-back" "$cash" "${x[4]}"
    row "manufacturer claims paid" "$claims" "${x[5]}"
    local refunds_paid=0
    if [ -s "$OUT/refunds_paid.tsv" ]; then
        refunds_paid=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$OUT/refunds_paid.tsv")
    fi
    row "refunds paid out to customers" "$refunds_paid" "${x[9]}"
    row "refunds owed = refunds paid out" "$api_s" "$refunds_paid"
    line="the export's debits $(yuan "${x[7]}") = credits $(yuan "${x[8]}")"
    if [ "${x[7]}" != "${x[8]}" ]; then
        ok=no
        line="$line   <- unbalanced"
    fi
    printf '  %s\n' "$line"
    printf '\nreconciles: %s\n' "$ok"

    jq -n --arg run "$RUN_NO" --arg day "$TODAY" --arg ok "$ok" --slurpfile t "$OUT/tickets.json" \
        --arg review "$REVIEW_ID" --arg transfer "$TRANSFER_SHORTAGE" --argjson esc "$ESCALATIONS" \
        --argjson complaints "$(printf '%s\n' "${COMPLAINT[@]}" | jq -R . | jq -sc .)" \
        --argjson money "$(jq -nc --argjson a "[$api_c,$api_m,$api_co,$api_s,$cash,$claims,$api_tr]" --argjson c "[${x[0]},${x[1]},${x[2]},${x[3]},${x[4]},${x[5]},${x[10]}]" \
            '{api: {customer: $a[0], manufacturer: $a[1], company: $a[2], seller: $a[3], cash: $a[4], claims_paid: $a[5], travel: $a[6]},
              csv: {customer: $c[0], manufacturer: $c[1], company: $c[2], seller: $c[3], cash: $c[4], claims_paid: $c[5], travel: $c[6]}}')" \
        --argjson rows "${x[6]}" \
        --argjson calls "$(jq -Rsc --arg cc "$CALL_COMPLAINT" --argjson st "$CALL_STATS" 'split("\n") | map(select(. != "") | split("\t"))
            | {recorded: length, ids: map(.[0]), categories: (map(.[1]) | group_by(.) | map({key: .[0], value: length}) | from_entries),
               complaint: $cc, stats_total: ($st.total // 0)}' "$OUT/calls.tsv")" \
        --argjson onsite "$ONSITE" --argjson notifs "$NOTIFS" \
        --argjson quality "$QUALITY_CHECK" --argjson scorecard "$SCORE_CHECK" \
        '{run: $run, day: $day, reconciles: ($ok == "yes"), tickets: ($t[0] | length),
          outcomes: ($t[0] | group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
          repeat_repairs: ($t[0] | map(select(.repeat_repair)) | length),
          review: $review, shortage_transfer: $transfer, escalations: $esc, complaints: $complaints,
          export_rows: $rows, money: $money, calls: $calls, onsite: $onsite, notifications: $notifs,
          quality: $quality, scorecard: $scorecard}' >"$OUT/summary.json"
    [ "$ok" = yes ]
}

summary_main 2>&1 | tee "$OUT/summary.txt"
rc=${PIPESTATUS[0]}
printf '\nfiles: %s (summary.txt, summary.json, tickets.json, export.csv)\n' "$OUT"
exit "$rc"
