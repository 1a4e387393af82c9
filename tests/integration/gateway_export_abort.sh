#!/usr/bin/env bash
# A finance export that fails mid-stream never looks complete. Once the head (200) of
# GET /v1/settlement/export is sent, the settlement service is stopped (SIGSTOP), so the next
# page times out; after its retries the gateway cuts the stream: a CSV export's last line is
# "#error,<reason>" and the connection closes without the chunked encoding's last chunk (curl
# exits 18). `asctl settlement export --out FILE` reports it, exits 4 and leaves no FILE. The
# service is resumed (SIGCONT) afterwards and the stack is healthy again.
#
# Timing: the client is held back (curl's output piped into a reader that waits; asctl itself
# stopped) so that the gateway, which asks for a page only when the client has drained most of
# the previous one, has asked for only the first few pages when the service stops.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
TMP=$(mktemp -d)
ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
SVC_PID=$(cat "$AS_VAR/run/settlement.pid" 2>/dev/null || true)
BG=()
cleanup() {
    local p
    [ -z "$SVC_PID" ] || kill -CONT "$SVC_PID" 2>/dev/null || true
    for p in "${BG[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

healthy() { curl -sf -o /dev/null --max-time 3 "$AS_GATEWAY_URL/healthz"; }
if ! [[ $SVC_PID =~ ^[0-9]+$ ]] || ! kill -0 "$SVC_PID" 2>/dev/null; then
    t_fail "the settlement service's pid is known" "no live pid in $AS_VAR/run/settlement.pid"
    t_done
fi

# --- enough ledger lines that the export outlasts every buffer on the way ---
# While the client holds back, the gateway keeps asking for pages until the kernel's buffers (its
# send buffer grows up to tcp_wmem's maximum; the client's receive buffer) and its own low-water
# mark are full; the export must be larger than that by a margin, or it would be complete before
# the service stops. A row is about 300 bytes here (long ticket ids), a repair about six rows.
wmem=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null || echo 4194304)
[[ $wmem =~ ^[0-9]+$ ]] || wmem=4194304
have=$(q "SELECT count(*) FROM journal_lines")
want=$(((wmem + 4 * 1024 * 1024) / 280))
batches=$(((want - have) / 60 + 1))
[ "$batches" -ge 50 ] || batches=50
[ "$batches" -le 2000 ] || batches=2000
half=$(((batches + 1) / 2))
for part in 0 1; do
    for b in $(seq $((part * half + 1)) $((part * half + half))); do
        echo "SELECT count(on_repair_completed(jsonb_build_object(
            'ticket_id', 'ABRT-$T-' || lpad(i::text, 6, '0') || '-' || repeat('x', 40),
            'center', 'GZ02', 'region', 'south', 'category', 'phone_host',
            'manufacturer', 'HUAXIN', 'labour_code', 'L-BOARD', 'payer', 'customer',
            'parts_used', jsonb_build_array(jsonb_build_object('sku', 'HX10-SCREEN', 'qty', 1)),
            'completed_at', '2026-10-12T03:00:00Z'))) FROM generate_series($((b * 10 - 9)), $((b * 10))) i;"
    done >"$TMP/bulk$part.sql"
done
sq -f "$TMP/bulk0.sql" >/dev/null &
sq -f "$TMP/bulk1.sql" >/dev/null &
wait
t_eq "$((half * 20)) repairs are charged for the export" $((half * 20)) \
    "$(q "SELECT count(*) FROM charge_sets WHERE ticket_id LIKE 'ABRT-$T-%'")"
LINES=$(q "SELECT count(*) FROM journal_lines")
t_note "the ledger has $LINES lines (tcp_wmem max $wmem bytes)"

# --- curl: the stream is cut, marked, and reported as a truncated transfer ---
mkfifo "$TMP/gate"
(
    curl -sS -N --max-time 240 -D "$TMP/h" -H "Authorization: Bearer $AS_TOKEN_FINANCE" \
        "$AS_GATEWAY_URL/v1/settlement/export?format=csv" 2>"$TMP/curl.err"
    echo $? >"$TMP/curl.rc"
) | {
    cat "$TMP/gate" >/dev/null # hold the body back until the gate opens
    cat >"$TMP/cut.csv"
} &
BG+=($!)
if wait_until 30 grep -qsi '^X-Export-Head:' "$TMP/h"; then
    t_ok "the export starts (200, X-Export-Head)"
else
    t_fail "the export starts (200, X-Export-Head)" "$(cat "$TMP/h" "$TMP/curl.err" 2>/dev/null)"
fi
sleep 1 # the client holds back: the gateway stops asking for pages
kill -STOP "$SVC_PID"
: >"$TMP/gate" # open the gate: the client reads everything, the gateway needs the next page
wait_until 120 test -s "$TMP/curl.rc"
kill -CONT "$SVC_PID"
wait
t_eq "curl reports a transfer closed with data outstanding (exit 18)" 18 "$(cat "$TMP/curl.rc" 2>/dev/null)"
t_note "curl: $(cat "$TMP/curl.err" 2>/dev/null)"
last=$(tail -n 1 "$TMP/cut.csv" | tr -d '\r')
t_match "the body's last line is the #error line with the reason" '^#error,.*(did not answer|incomplete)' "$last"
t_note "last line: $last"
t_eq "the header row came first" cursor "$(head -c 6 "$TMP/cut.csv")"
rows=$(($(grep -vc '^#error' "$TMP/cut.csv") - 1))
t_note "rows sent before the cut: $rows of $LINES"
t_eq "fewer rows than the ledger holds were sent" true "$([ "$rows" -lt "$LINES" ] && echo true || echo false)"
t_eq "every line before it starts with a cursor (no row is cut in half)" 0 \
    "$(head -n -1 "$TMP/cut.csv" | tail -n +2 | awk -F, '$1 !~ /^[0-9]+\.[0-9]+$/' | wc -l | tr -d ' ')"
t_check "the gateway logged the aborted export" grep -q 'export aborted' "$AS_VAR/log/gateway.log"

t_check "the stack is healthy again once the service resumes" wait_until 30 healthy

# --- asctl: a cut export is an error (exit 4) and leaves no file ---
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" settlement export --out "$TMP/asctl.csv" \
    >"$TMP/asctl.out" 2>"$TMP/asctl.err" &
APID=$!
BG+=("$APID")
# asctl reads as fast as it can: let it run in short slices until the first page is in.
started=no
for i in $(seq 1 300); do
    kill -STOP "$APID" 2>/dev/null || break
    if [ -s "$TMP/asctl.csv.part" ]; then
        started=yes
        break
    fi
    kill -CONT "$APID"
    sleep 0.05
done
if [ "$started" = yes ]; then
    sleep 1 # asctl holds back (stopped): the gateway stops asking for pages
    kill -STOP "$SVC_PID"
    kill -CONT "$APID"
    arc=0
    wait "$APID" || arc=$?
    kill -CONT "$SVC_PID"
    t_eq "asctl settlement export exits 4 (the system could not answer)" 4 "$arc"
    t_check "it says the gateway cut the export short" grep -q 'cut the export short' "$TMP/asctl.err"
    t_note "asctl: $(cat "$TMP/asctl.err")"
    t_eq "it leaves neither FILE nor FILE.part" "no no" \
        "$([ -e "$TMP/asctl.csv" ] && echo yes || echo no) $([ -e "$TMP/asctl.csv.part" ] && echo yes || echo no)"
else
    t_fail "asctl starts writing the export" "$(cat "$TMP/asctl.err")"
fi

t_check "the stack is healthy again" wait_until 30 healthy
rc=0
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_FINANCE" settlement export --quiet \
    --out "$TMP/whole.csv" 2>"$TMP/whole.err" || rc=$?
t_eq "an export after the service is back completes (exit 0)" 0 "$rc"
t_note "$(cat "$TMP/whole.err")"
t_eq "  with every line of the ledger and no #error line" "$(q "SELECT count(*) FROM journal_lines") 0" \
    "$(($(wc -l <"$TMP/whole.csv") - 1)) $(grep -c '^#error' "$TMP/whole.csv" || true)"
t_ledger_balanced "the ledger balances at the end"
t_done
