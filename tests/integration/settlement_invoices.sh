#!/usr/bin/env bash
# Settlement invoices: customer invoices are numbered per centre and year without gaps — also
# when many paid repairs are charged at the same moment (50 concurrent database sessions) and
# when a transaction that took a number rolls back. Finance lists and reads them over HTTP;
# a centre sees only its own.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
CA="IA$T" CB="IB$T"

# pay TICKET CENTRE DATE — a paid repair (labour only, demo rates) charged in its own session.
pay() { completed "$(repair_event "$1" "$2" customer "$3")" >/dev/null; }

# --- 50 paid repairs in one centre and 20 in another, all at once ---
pids=()
for i in $(seq 1 50); do
    pay "INV-$T-A$i" "$CA" 2026-04-10 &
    pids+=($!)
done
for i in $(seq 1 20); do
    pay "INV-$T-B$i" "$CB" 2026-04-10 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

t_eq "50 concurrent paid repairs get 50 invoices" 50 \
    "$(q "SELECT count(*) FROM invoices WHERE center = '$CA' AND year = 2026")"
t_eq "their numbers are exactly 1..50: no gap, no duplicate" "$(seq -s, 1 50)" \
    "$(q "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM invoices WHERE center = '$CA' AND year = 2026")"
t_eq "the other centre, charged at the same time, counts 1..20 on its own" "$(seq -s, 1 20)" \
    "$(q "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM invoices WHERE center = '$CB' AND year = 2026")"
t_eq "the numbers read centre-year-sequence" "$CA-2026-000001 $CA-2026-000050" \
    "$(q "SELECT min(invoice_no) || ' ' || max(invoice_no) FROM invoices WHERE center = '$CA'")"
t_eq "every invoiced ticket names its invoice" 0 \
    "$(q "SELECT count(*) FROM invoices i JOIN charge_sets c USING (ticket_id) WHERE c.invoice_no IS DISTINCT FROM i.invoice_no AND i.center = '$CA'")"
t_eq "the counter row stands at the last number" 50 \
    "$(q "SELECT last_no FROM invoice_counters WHERE center = '$CA' AND year = 2026")"
t_ledger_balanced "the ledger balances after 70 concurrent charges"

# --- a rolled-back charge gives its number back ---
ev=$(repair_event "INV-$T-RB" "$CA" customer 2026-04-11 | sed "s/'/''/g")
out=$(q "BEGIN; SELECT on_repair_completed('$ev'::jsonb); ROLLBACK;")
out=$(q "BEGIN; SELECT on_repair_completed('$ev'::jsonb); SELECT 1 / 0; COMMIT;") || true
t_match "a charge whose transaction fails is undone" "division by zero" "$out"
pay "INV-$T-A51" "$CA" 2026-04-12
t_eq "the next invoice is number 51: rolled-back numbers are reused, not skipped" 51 \
    "$(q "SELECT seq FROM invoices WHERE ticket_id = 'INV-$T-A51'")"
t_eq "the rolled-back ticket has no invoice" 0 "$(q "SELECT count(*) FROM invoices WHERE ticket_id = 'INV-$T-RB'")"

# --- a new year starts at 1; warranty work gets no invoice ---
pay "INV-$T-Y" "$CA" 2027-01-02
t_eq "the first invoice of a new year is number 1" "$CA-2027-000001" \
    "$(q "SELECT invoice_no FROM invoices WHERE ticket_id = 'INV-$T-Y'")"
completed "$(repair_event "INV-$T-W" "$CA" manufacturer 2026-04-12)" >/dev/null
t_eq "warranty work is not invoiced to the customer" "" "$(q "SELECT invoice_no FROM charge_sets WHERE ticket_id = 'INV-$T-W'")"

# --- over HTTP ---
http GET "/v1/settlement/invoices?center=$CA&year=2026&limit=20" "$AS_TOKEN_FINANCE"
t_status "finance lists a centre's invoices" 200
t_jq "the first page holds 20 in number order" '[.invoices[0].seq, .invoices[19].seq, (.invoices | length)] | map(tostring) | join(" ")' "1 20 20"
next=$(jbody .next)
seen=$(jbody '[.invoices[].invoice_no] | join(" ")')
while [ -n "$next" ] && [ "$next" != null ]; do
    http GET "/v1/settlement/invoices?center=$CA&year=2026&limit=20&after=$next" "$AS_TOKEN_FINANCE"
    seen+=" $(jbody '[.invoices[].invoice_no] | join(" ")')"
    next=$(jbody .next)
done
t_eq "paging with the cursor yields all 51, each once" 51 "$(printf '%s\n' $seen | sort -u | wc -l)"
http GET "/v1/settlement/invoices/$CA-2026-000007" "$AS_TOKEN_FINANCE"
t_jq "an invoice's total is its net plus VAT" '.total_cents == .net_cents + .vat_cents and .vat_cents > 0' true
t_jq "an invoice lists the customer's lines, VAT last" '.lines[-1].kind' vat
http GET "/v1/settlement/invoices/$CA-2026-000007" "$AS_TOKEN_CENTER"
t_status "a centre cannot read another centre's invoice" 404
http GET "/v1/settlement/invoices?center=$CA" "$AS_TOKEN_CENTER"
t_jq "a centre's list shows none of another centre's invoices" '.invoices | length' 0
http GET "/v1/settlement/invoices?year=1999" "$AS_TOKEN_FINANCE"
t_status "a year outside 2000..9999 is refused" 400
http GET "/v1/settlement/invoices" "$AS_TOKEN_WAREHOUSE"
t_status "the warehouse may not list invoices" 403

t_done
