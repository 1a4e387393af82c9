#!/usr/bin/env bash
# tests/invariants.sh — what must hold in a running aftersales stack whatever happened to it
# (crashes, restarts, PostgreSQL going away, partitions, replays). Reads the database only, as
# each service's own role; prints one TAP line per check and exits 0 when all of them hold.
#
#   AS_VAR=var/faults tests/invariants.sh
#
# The checks:
#   intake      every ticket has exactly one state: one "opened" entry, its transitions chain
#               (each starts where the previous ended) and end in the ticket's state; every
#               final ticket has exactly one final timeline entry and a closing time
#   settlement  at most one charge set per ticket; the ledger balances (every entry, and in
#               total: debits = credits); every handed-back ticket (returned unrepaired
#               included: it is closed like a declined estimate) was charged/closed once;
#               every claim's claimed_cents is the sum of its lines' (kept by a trigger)
#   parts       stock equals its ledger (parts' own ledger_mismatches()) and is never negative
#   warranty    every ticket was decided exactly once;  surveys: one callback per closed ticket
#   outbox      every stream: gap-free (rows 1..last_seq) and published (published_seq = last_seq)
#   consumers   every consumer applied each (stream, seq) exactly once with no gap
#               (count = max = consumer_offsets.last_seq, min = 1) and has caught up with the
#               publisher's head
# A check whose tables do not exist yet (a service still being written) prints
# `ok - … # skipped: …`, and only then.
#
# Settings (environment):
#   AS_VAR           the stack's state directory (default var): run/env for the port,
#                    run/secrets/<service>.pw for the passwords
#   AS_PG_HOST       PostgreSQL host (default: AS_PG_HOST in run/env, else 127.0.0.1)
#   AS_INV_PG_PORT   PostgreSQL port (default: AS_PG_PORT in run/env)
#   AS_INV_WAIT      seconds to wait for publishers and consumers to catch up (default 60)
#   AS_INV_CUSTOMER  a LIKE pattern on intake's customer_name: the cross-service ticket checks
#                    look at these tickets only (default: every ticket)
set -uo pipefail
# shellcheck source=tests/helpers.sh
. "$(dirname "${BASH_SOURCE[0]}")/helpers.sh" # wait_until

AS_VAR=${AS_VAR:-var}
ENV_FILE=$AS_VAR/run/env
env_setting() { [ -f "$ENV_FILE" ] && sed -n "s/^export $1=//p" "$ENV_FILE" | head -n 1; }
PG_HOST=${AS_PG_HOST:-$(env_setting AS_PG_HOST)}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${AS_INV_PG_PORT:-$(env_setting AS_PG_PORT)}
PG_PORT=${PG_PORT:-${AS_PG_PORT:-55432}}
WAIT=${AS_INV_WAIT:-60}
CUSTOMER=${AS_INV_CUSTOMER:-%}
SERVICES=(intake warranty parts settlement surveys)

PASSED=0
FAILED=0
ok() {
    PASSED=$((PASSED + 1))
    printf 'ok - %s\n' "$1"
}
skip() {
    PASSED=$((PASSED + 1))
    printf 'ok - %s # skipped: %s\n' "$1" "$2"
}
not_ok() {
    FAILED=$((FAILED + 1))
    printf 'not ok - %s: %s\n' "$1" "${2%%$'\n'*}"
    if [ "$2" != "${2%%$'\n'*}" ]; then
        printf '%s\n' "${2#*$'\n'}" | sed 's/^/#   /'
    fi
}
# check NAME EXPECTED ACTUAL [DETAIL]
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected $2, got $3${4:+$'\n'$4}"; fi
}

# q SERVICE SQL — one query as the service's role; rows as text, fields separated by '|'.
q() {
    local pw
    pw=$(cat "$AS_VAR/run/secrets/$1.pw" 2>/dev/null) || {
        echo "no password file $AS_VAR/run/secrets/$1.pw" >&2
        return 2
    }
    PGPASSWORD=$pw PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
        "host=$PG_HOST port=$PG_PORT dbname=aftersales user=as_$1 application_name=invariants" \
        -c "$2"
}
# has SERVICE NAME... — every table, view or function exists in the service's schema (the
# schema's catalogue is read once).
declare -A CATALOG=()
has() {
    local s=$1 t
    shift
    if [ -z "${CATALOG[$s]+x}" ]; then
        CATALOG[$s]=" $(q "$s" "SELECT string_agg(name, ' ') FROM (
                SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = '$s' AND c.relkind IN ('r', 'v', 'p')
                UNION SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = '$s') x" 2>/dev/null) "
    fi
    for t in "$@"; do
        [[ ${CATALOG[$s]} == *" $t "* ]] || return 1
    done
}
has_fn() { has "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- reachability ---------------------------------------------------------------------------
up=()
for s in "${SERVICES[@]}"; do
    if q "$s" "SELECT 1" >/dev/null 2>"$tmp/err"; then
        up+=("$s")
    elif [ -f "$AS_VAR/run/secrets/$s.pw" ]; then
        not_ok "the database answers as_$s" "$(head -c 300 "$tmp/err")"
    fi
done
if [ ${#up[@]} -eq 0 ]; then
    not_ok "the stack's database is reachable" "nothing answered on $PG_HOST:$PG_PORT (AS_VAR=$AS_VAR)"
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    exit 1
fi
is_up() { [[ " ${up[*]} " == *" $1 "* ]]; }

# ---- outboxes: gap-free and published -------------------------------------------------------
# published_all SERVICE — every stream of its outbox is published up to its head.
published_all() {
    [ "$(q "$1" "SELECT count(*) FROM outbox_streams WHERE published_seq <> last_seq")" = 0 ]
}
for s in "${up[@]}"; do
    name="$s: every outbox row was published"
    if ! has "$s" outbox outbox_streams; then
        skip "$name" "no outbox tables in schema $s"
        continue
    fi
    wait_until "$WAIT" published_all "$s" || true
    rows=$(q "$s" "SELECT o.stream, o.last_seq, o.published_seq, coalesce(b.n, 0), coalesce(b.lo, 0),
                          coalesce(b.hi, 0)
                   FROM outbox_streams o
                   LEFT JOIN (SELECT stream, count(*) AS n, min(seq) AS lo, max(seq) AS hi
                              FROM outbox GROUP BY stream) b ON b.stream = o.stream
                   ORDER BY o.stream")
    if [ -z "$rows" ]; then
        ok "$name # no stream has events yet"
        continue
    fi
    while IFS='|' read -r stream last pub n lo hi; do
        exp_lo=$([ "$last" -gt 0 ] && echo 1 || echo 0)
        check "$s: outbox of stream $stream is gap-free (rows $exp_lo..$last)" \
            "$last rows, $exp_lo..$last" "$n rows, $lo..$hi"
        check "$s: every outbox row of stream $stream was published" "$last" "$pub" \
            "published_seq $pub < last_seq $last after ${WAIT}s"
    done <<<"$rows"
done

# ---- consumers: exactly once, no gap, caught up ---------------------------------------------
# Every consumer's position and applied rows, and every publisher's head, read together until
# every consumer has reached its publisher's head (or AS_INV_WAIT passes).
declare -A HEAD=() CONS=()
read_positions() {
    local s rows
    for s in "${up[@]}"; do
        if has "$s" outbox_streams; then
            HEAD[$s]=$(q "$s" "SELECT coalesce((SELECT last_seq FROM outbox_streams WHERE stream = '$s'), 0)") || return 1
        fi
    done
    for s in "${up[@]}"; do
        has "$s" consumer_offsets consumer_applied || continue
        rows=$(q "$s" "SELECT o.stream, o.last_seq, count(a.seq), coalesce(max(a.seq), 0),
                              coalesce(min(a.seq), 0)
                       FROM consumer_offsets o LEFT JOIN consumer_applied a ON a.stream = o.stream
                       GROUP BY o.stream, o.last_seq ORDER BY o.stream") || return 1
        CONS[$s]=$rows
    done
}
all_caught_up() {
    local s st last rest
    read_positions || return 1
    for s in "${!CONS[@]}"; do
        while IFS='|' read -r st last rest; do
            [ -n "$st" ] || continue
            if [ -n "${HEAD[$st]:-}" ] && [ "$last" != "${HEAD[$st]}" ]; then return 1; fi
        done <<<"${CONS[$s]}"
    done
}
wait_until "$WAIT" all_caught_up || true
for s in "${up[@]}"; do
    if ! has "$s" consumer_offsets consumer_applied; then
        skip "$s: consumers applied every event once" "no consumer tables in schema $s"
        continue
    fi
    if [ -z "${CONS[$s]:-}" ]; then
        ok "$s: consumers applied every event once # no stream consumed yet"
        continue
    fi
    while IFS='|' read -r st last n hi lo; do
        if [ -n "${HEAD[$st]:-}" ]; then
            check "$s has caught up with the head of stream $st" "${HEAD[$st]}" "$last" \
                "at $last of ${HEAD[$st]} after ${WAIT}s"
        else
            skip "$s has caught up with the head of stream $st" "publisher $st is not reachable"
        fi
        exp_lo=$([ "$last" -gt 0 ] && echo 1 || echo 0)
        check "$s applied each event of stream $st exactly once, with no gap ($last events)" \
            "count=$last max=$last min=$exp_lo" "count=$n max=$hi min=$lo"
    done <<<"${CONS[$s]}"
done

# ---- the tickets this run looks at ----------------------------------------------------------
have_tickets=0
if is_up intake && has intake tickets ticket_timeline; then
    have_tickets=1
    q intake "SELECT id FROM tickets WHERE customer_name LIKE '$CUSTOMER' ORDER BY id" | LC_ALL=C sort >"$tmp/all"
    q intake "SELECT id FROM tickets WHERE customer_name LIKE '$CUSTOMER' AND state = 'closed' ORDER BY id" | LC_ALL=C sort >"$tmp/closed"
    q intake "SELECT id FROM tickets WHERE customer_name LIKE '$CUSTOMER'
                AND state IN ('closed', 'refunded', 'exchanged', 'declined', 'returned') ORDER BY id" | LC_ALL=C sort >"$tmp/handed"
fi
# same_ids NAME FILE_EXPECTED FILE_ACTUAL — the two sorted id lists are equal.
same_ids() {
    local missing extra
    missing=$(LC_ALL=C comm -23 "$2" "$3" | head -n 5 | tr '\n' ' ')
    extra=$(LC_ALL=C comm -13 "$2" "$3" | head -n 5 | tr '\n' ' ')
    if [ -z "$missing$extra" ]; then
        ok "$1 ($(wc -l <"$2") tickets)"
    else
        not_ok "$1" "$(LC_ALL=C comm -23 "$2" "$3" | wc -l) missing (${missing% }), $(LC_ALL=C comm -13 "$2" "$3" | wc -l) unexpected (${extra% })"
    fi
}

# ---- intake ---------------------------------------------------------------------------------
if [ "$have_tickets" -eq 1 ]; then
    bad=$(q intake "
        WITH tr AS (
            SELECT e.ticket_id, e.id, e.from_state, e.to_state,
                   lag(e.to_state) OVER (PARTITION BY e.ticket_id ORDER BY e.id) AS prev,
                   row_number() OVER (PARTITION BY e.ticket_id ORDER BY e.id DESC) AS back
            FROM ticket_timeline e
            WHERE e.from_state IS NULL OR e.from_state <> e.to_state),
        per AS (
            SELECT t.id, t.state,
                   count(*) FILTER (WHERE tr.from_state IS NULL) AS opened,
                   count(*) FILTER (WHERE tr.from_state IS NOT NULL
                                      AND tr.from_state IS DISTINCT FROM tr.prev) AS broken,
                   max(tr.to_state) FILTER (WHERE tr.back = 1) AS last_to
            FROM tickets t LEFT JOIN tr ON tr.ticket_id = t.id
            WHERE t.customer_name LIKE '$CUSTOMER'
            GROUP BY t.id, t.state)
        SELECT id || ' state=' || state || ' opened=' || opened || ' broken=' || broken
               || ' last=' || coalesce(last_to, '-')
        FROM per WHERE opened <> 1 OR broken <> 0 OR last_to IS DISTINCT FROM state
        ORDER BY id")
    check "intake: every ticket has exactly one state, and its timeline leads to it" 0 \
        "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
    bad=$(q intake "
        SELECT t.id || ' ' || t.state || ' final_entries=' || count(e.id)
               || CASE WHEN t.closed_at IS NULL THEN ' closed_at=NULL' ELSE '' END
        FROM tickets t
        LEFT JOIN ticket_timeline e ON e.ticket_id = t.id AND e.to_state = t.state
             AND e.from_state IS DISTINCT FROM e.to_state
        WHERE t.customer_name LIKE '$CUSTOMER'
          AND t.state IN ('closed', 'cancelled', 'declined', 'refunded', 'exchanged', 'returned')
        GROUP BY t.id, t.state, t.closed_at
        HAVING count(e.id) <> 1 OR t.closed_at IS NULL
        ORDER BY t.id")
    check "intake: every final ticket has exactly one final timeline entry ($(grep -c . "$tmp/handed") handed back, $(q intake "SELECT count(*) FROM tickets WHERE customer_name LIKE '$CUSTOMER' AND state = 'cancelled'") cancelled)" \
        0 "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
else
    skip "intake: every ticket has exactly one state" "intake has no tickets/ticket_timeline tables"
fi

# ---- warranty -------------------------------------------------------------------------------
if is_up warranty && has warranty decisions && [ "$have_tickets" -eq 1 ]; then
    check "warranty: no ticket has two decisions" 0 \
        "$(q warranty "SELECT count(*) FROM (SELECT ticket_id FROM decisions GROUP BY 1 HAVING count(*) > 1) d")"
    q warranty "SELECT ticket_id FROM decisions ORDER BY 1" | LC_ALL=C sort >"$tmp/decided"
    LC_ALL=C comm -12 "$tmp/all" "$tmp/decided" >"$tmp/decided_ours"
    same_ids "warranty: every ticket was decided exactly once" "$tmp/all" "$tmp/decided_ours"
else
    skip "warranty: every ticket was decided exactly once" "no warranty.decisions or intake.tickets table"
fi

# ---- settlement -----------------------------------------------------------------------------
if is_up settlement && has settlement charge_sets; then
    check "settlement: at most one charge set per ticket" 0 \
        "$(q settlement "SELECT count(*) FROM (SELECT ticket_id FROM charge_sets GROUP BY 1 HAVING count(*) > 1) d")"
    if has settlement journal_entries; then
        check "settlement: at most one charge entry per ticket in the ledger" 0 \
            "$(q settlement "SELECT count(*) FROM (SELECT ticket_id FROM journal_entries WHERE kind = 'charge'
                                                  GROUP BY 1 HAVING count(*) > 1) d")"
    fi
    if [ "$have_tickets" -eq 1 ]; then
        q settlement "SELECT ticket_id FROM charge_sets WHERE closed_outcome IS NOT NULL ORDER BY 1" |
            LC_ALL=C sort >"$tmp/charged"
        LC_ALL=C comm -12 "$tmp/all" "$tmp/charged" >"$tmp/charged_ours"
        same_ids "settlement: every handed-back ticket was charged and closed exactly once" \
            "$tmp/handed" "$tmp/charged_ours"
    fi
else
    skip "settlement: at most one charge set per ticket" "no settlement.charge_sets table yet"
fi
if is_up settlement && has settlement journal_lines; then
    bad=$(q settlement "SELECT entry_no || ' debits=' || sum(debit_cents) || ' credits=' || sum(credit_cents)
                        FROM journal_lines GROUP BY entry_no
                        HAVING sum(debit_cents) <> sum(credit_cents) OR count(*) < 2 ORDER BY entry_no")
    check "settlement: every ledger entry balances" 0 "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
    tot=$(q settlement "SELECT coalesce(sum(debit_cents), 0) || ' = ' || coalesce(sum(credit_cents), 0) FROM journal_lines")
    if [ "${tot% = *}" = "${tot#* = }" ]; then
        ok "settlement: the ledger balances (debits = credits = ${tot% = *} cents)"
    else
        not_ok "settlement: the ledger balances" "debits = credits is $tot"
    fi
else
    skip "settlement: the ledger balances" "no settlement.journal_lines table yet"
fi
if is_up settlement && has settlement claims claim_lines; then
    bad=$(q settlement "SELECT c.id || ' claimed_cents=' || c.claimed_cents || ' lines=' || coalesce(sum(l.claimed_cents), 0)
                        FROM claims c LEFT JOIN claim_lines l ON l.claim_id = c.id
                        GROUP BY c.id, c.claimed_cents
                        HAVING c.claimed_cents <> coalesce(sum(l.claimed_cents), 0) ORDER BY c.id")
    check "settlement: every claim's claimed_cents is the sum of its lines ($(q settlement "SELECT count(*) FROM claims") claims)" \
        0 "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
else
    skip "settlement: every claim's claimed_cents is the sum of its lines" "no settlement.claims/claim_lines tables yet"
fi
if is_up settlement && has settlement event_rejects && [ "$have_tickets" -eq 1 ]; then
    q settlement "SELECT DISTINCT ticket_id FROM event_rejects WHERE ticket_id IS NOT NULL ORDER BY 1" |
        LC_ALL=C sort >"$tmp/rejected"
    check "settlement: no event of these tickets was rejected" 0 \
        "$(LC_ALL=C comm -12 "$tmp/all" "$tmp/rejected" | grep -c .)"
fi

# ---- parts ----------------------------------------------------------------------------------
if is_up parts && has parts stock movements && has_fn parts ledger_mismatches; then
    bad=$(q parts "SELECT site || '/' || sku || ' ' || problem || ': balance ' || balance || ', ledger ' || expected
                   FROM ledger_mismatches() ORDER BY 1")
    check "parts: stock equals the ledger (ledger_mismatches() is empty; $(q parts "SELECT count(*) FROM movements") movements)" \
        0 "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
    check "parts: stock is never negative" 0 \
        "$(q parts "SELECT count(*) FROM stock WHERE on_hand < 0 OR reserved < 0 OR defective < 0 OR on_hand - reserved < 0")"
    if has parts event_failures && [ "$have_tickets" -eq 1 ]; then
        q parts "SELECT DISTINCT payload->>'ticket_id' FROM event_failures WHERE resolved_at IS NULL
                 AND payload->>'ticket_id' IS NOT NULL ORDER BY 1" | LC_ALL=C sort >"$tmp/pfail"
        check "parts: no event of these tickets was set aside" 0 \
            "$(LC_ALL=C comm -12 "$tmp/all" "$tmp/pfail" | grep -c .)"
    fi
else
    skip "parts: stock equals the ledger and is never negative" "no parts ledger (stock, movements, ledger_mismatches) yet"
fi

# ---- money: inventory valued in the ledger -------------------------------------------------
# Parts values its stock (moving average per site x SKU) and publishes every valued movement;
# settlement posts them. Once settlement has caught up, 1405 is the good stock's value, 1406
# what is in transit, 1407 the defective parts held; 1405 never went negative entry by entry.
if is_up parts && is_up settlement && has_fn parts valuation_totals value_mismatches &&
    has settlement journal_lines; then
    bad=$(q parts "SELECT site || '/' || sku || ' ' || problem || ': ' || value || ', expected ' || expected
                   FROM value_mismatches() ORDER BY 1")
    check "parts: every stock value equals the sum of its movements' values (value_mismatches() is empty)" \
        0 "$(grep -c . <<<"$bad")" "$(head -n 5 <<<"$bad")"
    inv_want() { q parts "SELECT stock_cents || ' ' || transit_cents || ' ' || defective_cents FROM valuation_totals()"; }
    inv_got() {
        q settlement "SELECT coalesce(sum(debit_cents - credit_cents) FILTER (WHERE account = '1405'), 0) || ' ' ||
                             coalesce(sum(debit_cents - credit_cents) FILTER (WHERE account = '1406'), 0) || ' ' ||
                             coalesce(sum(debit_cents - credit_cents) FILTER (WHERE account = '1407'), 0)
                      FROM journal_lines WHERE account IN ('1405', '1406', '1407')"
    }
    inv_same() { [ "$(inv_want)" = "$(inv_got)" ]; }
    wait_until "$WAIT" inv_same || true
    check "money: ledger 1405 / 1406 / 1407 equal parts' valued stock / in transit / defective (cents)" \
        "$(inv_want)" "$(inv_got)"
    check "money: parts inventory (1405) never stood below zero, entry by entry" 0 \
        "$(q settlement "SELECT count(*) FROM (SELECT sum(sum(debit_cents - credit_cents)) OVER (ORDER BY entry_no) AS run
                         FROM journal_lines WHERE account = '1405' GROUP BY entry_no) x WHERE run < 0")"
else
    skip "money: ledger inventory equals parts' valued stock" "no parts valuation or settlement ledger yet"
fi

# ---- surveys --------------------------------------------------------------------------------
if is_up surveys && has surveys callbacks && [ "$have_tickets" -eq 1 ]; then
    q surveys "SELECT ticket_id FROM callbacks ORDER BY 1" | LC_ALL=C sort >"$tmp/called"
    LC_ALL=C comm -12 "$tmp/all" "$tmp/called" >"$tmp/called_ours"
    same_ids "surveys: one satisfaction callback per handed-back ticket" "$tmp/handed" "$tmp/called_ours"
else
    skip "surveys: one satisfaction callback per handed-back ticket" "no surveys.callbacks table yet"
fi

printf '# invariants: %d passed, %d failed (AS_VAR=%s, PostgreSQL %s:%s)\n' "$PASSED" "$FAILED" \
    "$AS_VAR" "$PG_HOST" "$PG_PORT"
[ "$FAILED" -eq 0 ]
