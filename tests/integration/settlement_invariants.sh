#!/usr/bin/env bash
# Settlement: the invariants that must hold whatever happened before — every journal entry is
# balanced and has two lines or more, debits equal credits overall, the ledger refuses UPDATE,
# DELETE and TRUNCATE, every ticket has at most one charge set and one Charged event, and
# invoice numbers run without gaps per centre and year.
#
# The other settlement_*.sh scripts source this file for its helpers (sq, t_ledger_balanced,
# repair_event, ...); run directly, it checks the invariants over whatever the stack holds.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# A tag unique to this run, so scripts sharing one stack never collide on ids or codes.
RUN_TAG=${RUN_TAG:-$(printf '%05d%03d' $((RANDOM % 100000)) $((RANDOM % 1000)))}
TODAY=$(TZ=Asia/Shanghai date +%F)

# sq SQL... — run SQL as as_settlement (unaligned, tuples only); prints rows, then the error
# text when it fails (exit status of psql kept).
sq() {
    local pw
    pw=$(cat "${AS_VAR:?AS_VAR is not set}/run/secrets/settlement.pw")
    PGPASSWORD=$pw psql -X -q -At -v ON_ERROR_STOP=1 \
        "host=127.0.0.1 port=${AS_PG_PORT:?} dbname=aftersales user=as_settlement application_name=settlement-tests" \
        "$@" 2>&1
}

# q SQL — one query, its output.
q() { sq -c "$1"; }

# The ledger check, as one word: "balanced", or what is wrong.
LEDGER_CHECK_SQL="
SELECT CASE
    WHEN (SELECT coalesce(sum(debit_cents), 0) <> coalesce(sum(credit_cents), 0) FROM journal_lines)
        THEN 'debits differ from credits overall'
    WHEN EXISTS (SELECT 1 FROM journal_lines GROUP BY entry_no
                 HAVING sum(debit_cents) <> sum(credit_cents) OR count(*) < 2)
        THEN 'entry ' || (SELECT min(entry_no) FROM (SELECT entry_no FROM journal_lines GROUP BY entry_no
                 HAVING sum(debit_cents) <> sum(credit_cents) OR count(*) < 2) x) || ' is unbalanced'
    WHEN EXISTS (SELECT 1 FROM journal_entries e
                 WHERE NOT EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_no = e.entry_no))
        THEN 'an entry has no lines'
    WHEN (SELECT last_no FROM ledger_head) <> (SELECT coalesce(max(entry_no), 0) FROM journal_entries)
      OR (SELECT count(*) FROM journal_entries) <> (SELECT coalesce(max(entry_no), 0) FROM journal_entries)
        THEN 'entry numbers have gaps'
    ELSE 'balanced' END"

# t_ledger_balanced NAME — the whole ledger balances: overall, per entry, no entry without lines.
t_ledger_balanced() {
    t_eq "$1" balanced "$(q "$LEDGER_CHECK_SQL")"
}

# repair_event TICKET CENTER PAYER DATE [jq-overrides] — a RepairCompleted payload as JSON.
repair_event() {
    jq -nc --arg t "$1" --arg c "$2" --arg p "$3" --arg d "$4" "{
        ticket_id: \$t, center: \$c, region: \"east\", category: \"phone_host\", brand: \"Huaxin\",
        manufacturer: \"HUAXIN\", fault_code: \"NO_POWER\", labour_code: \"L-BOARD\",
        labour_minutes: 30, parts_used: [], payer: \$p, warranty_status: \"granted\",
        remedy: \"repair\", cause: \"other\", completed_at: (\$d + \"T04:00:00Z\")} ${5:+| $5}"
}

# completed PAYLOAD — apply a RepairCompleted as the consumer would (the SQL handler).
completed() { q "SELECT on_repair_completed('$(printf '%s' "$1" | sed "s/'/''/g")'::jsonb)"; }
# closed PAYLOAD — apply a TicketClosed the same way.
closed() { q "SELECT on_ticket_closed('$(printf '%s' "$1" | sed "s/'/''/g")'::jsonb)"; }
# returned PAYLOAD — apply a parts.DefectiveReturnRecorded the same way.
returned() { q "SELECT on_defective_return('$(printf '%s' "$1" | sed "s/'/''/g")'::jsonb)"; }

# open_ticket BODY — a centre desk opens the ticket; its id in $id, once it is decided.
open_ticket() {
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$1"
    id=$(jbody .id)
    wait_http "/v1/tickets/$id" "$AS_TOKEN_CENTER" '.state != "received"' true
}

# entry_of SOURCE_KEY — the journal entry booked for SOURCE_KEY, as "account:debit:credit" lines.
entry_of() {
    q "SELECT string_agg(account || ':' || debit_cents || ':' || credit_cents, ' ' ORDER BY line_no)
       FROM journal_lines WHERE entry_no = (SELECT entry_no FROM journal_entries WHERE source_key = '$1')"
}

# no_fees_sql MANUFACTURER — SQL giving that (test) manufacturer every fee code switched off, so a
# test's charges hold only its own labour and parts.
no_fees_sql() {
    cat <<SQL
INSERT INTO fee_rates(fee_code, category, manufacturer, effective_from, description, applies,
                      list_cents, claim_cents, active)
    SELECT DISTINCT fee_code, '*', '$1', '2000-01-01'::date, 'none for this maker', 'always',
           NULL::bigint, NULL::bigint, false FROM fee_rates;
SQL
}

# wait_sql SQL EXPECTED — poll (up to 10 s) until SQL prints EXPECTED; prints the last value.
wait_sql() {
    local i v=""
    for i in $(seq 1 100); do
        v=$(q "$1")
        [ "$v" = "$2" ] && break
        sleep 0.1
    done
    printf '%s' "$v"
}

# ---- run directly: the invariants over everything the stack holds ----
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    t_ledger_balanced "every journal entry balances, and so does the whole ledger"
    out=$(q "INSERT INTO periods(period) VALUES (to_char('$TODAY'::date, 'YYYY-MM')) ON CONFLICT DO NOTHING;
             INSERT INTO journal_entries(entry_no, source_key, kind, business_date, posting_date,
                 posting_period, currency) VALUES (999999999, 'probe:$RUN_TAG', 'charge', '$TODAY',
                 '$TODAY', to_char('$TODAY'::date, 'YYYY-MM'), 'CNY')") || true
    t_match "an entry without lines is refused at commit" "unbalanced" "$out"
    n=$(q "SELECT count(*) FROM journal_lines")
    if [ "$n" -gt 0 ]; then
        out=$(q "UPDATE journal_lines SET debit_cents = debit_cents + 1 WHERE entry_no = (SELECT min(entry_no) FROM journal_lines)") || true
        t_match "a journal line cannot be updated" "append-only" "$out"
        out=$(q "DELETE FROM journal_entries WHERE entry_no = (SELECT max(entry_no) FROM journal_entries)") || true
        t_match "a journal entry cannot be deleted" "append-only" "$out"
    fi
    out=$(q "TRUNCATE journal_lines, journal_entries CASCADE") || true
    t_match "the ledger cannot be truncated" "append-only" "$out"
    t_ledger_balanced "the refused changes left the ledger as it was"
    t_eq "no ticket has two Charged events" 0 "$(q "SELECT count(*) FROM (SELECT payload->>'ticket_id'
        FROM outbox WHERE type = 'settlement.Charged' GROUP BY 1 HAVING count(*) > 1) x")"
    t_eq "every charge set has exactly one Charged event" \
        "$(q "SELECT count(*) FROM charge_sets")" \
        "$(q "SELECT count(*) FROM outbox WHERE type = 'settlement.Charged'")"
    t_eq "invoice numbers have no gaps in any centre and year" 0 "$(q "SELECT count(*) FROM (
        SELECT center, year FROM invoices GROUP BY center, year
        HAVING max(seq) <> count(*) OR min(seq) <> 1) x")"
    t_eq "every invoice counter equals its last invoice" 0 "$(q "SELECT count(*) FROM invoice_counters c
        WHERE c.last_no <> (SELECT coalesce(max(seq), 0) FROM invoices i
                            WHERE i.center = c.center AND i.year = c.year)")"
    t_eq "no posting lands in a closed period after its close" 0 "$(q "SELECT count(*) FROM journal_entries e
        JOIN periods p ON p.period = e.posting_period WHERE p.state = 'closed' AND e.created_at > p.closed_at")"
    t_done
fi
