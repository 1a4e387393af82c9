#!/usr/bin/env bash
# stack_starts.sh — `stack.sh up` starts the stack every time, and `up` after one program died
# starts that one only.
#
# A second stack of its own (state directory $AS_VAR/stackstart, ports offset from the test
# stack's: PostgreSQL +50, programs +55, HTTP +50) is started on a fresh state directory
# AS_STACK_STARTS times (3 here; `make test-faults` runs it with 20), each time brought down and
# deleted again. Then, with the stack up, as-intake is killed with SIGKILL and `up` is run again:
# it must start as-intake alone (the other five keep their pids), print no shell error and end
# healthy.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)

N=${AS_STACK_STARTS:-3}
SV=$AS_VAR/stackstart
S_PG=$((AS_PG_PORT + 50))
S_BASE=$((AS_PORT_BASE + 55))
S_HTTP=$((AS_HTTP_PORT + 50))
OUT=$AS_VAR/stackstart.out

st() {
    AS_VAR=$SV AS_PG_PORT=$S_PG AS_PORT_BASE=$S_BASE AS_HTTP_PORT=$S_HTTP AS_BIN=$AS_BIN \
        AS_DEMO_DIR=$ROOT/deploy/demo "$ROOT/deploy/local/stack.sh" "$@"
}
cleanup() { st clean >/dev/null 2>&1 || true; }
trap cleanup EXIT

ok=0
for ((i = 1; i <= N; i++)); do
    cleanup
    if st up >"$OUT" 2>&1; then
        ok=$((ok + 1))
    else
        t_note "start $i of $N failed:"$'\n'"$(tail -n 30 "$OUT")"
    fi
    if [ "$i" -lt "$N" ]; then st down >/dev/null 2>&1 || true; fi
done
t_eq "stack.sh up on a fresh state directory succeeds $N times out of $N" "$N" "$ok"

# One program dies; `up` again starts that one alone.
pids_before=""
for p in warranty parts settlement surveys gateway; do
    pids_before+="$p=$(cat "$SV/run/$p.pid" 2>/dev/null) "
done
kill -KILL "$(cat "$SV/run/intake.pid")" 2>/dev/null
sleep 0.5
if st up >"$OUT" 2>&1; then t_ok "up after as-intake died succeeds"; else t_fail "up after as-intake died succeeds" "$(tail -n 20 "$OUT")"; fi
if grep -qE '(line [0-9]+:|No such file|command not found|unbound variable)' "$OUT"; then
    t_fail "up after a death prints no shell error" "$(grep -E 'line [0-9]+:|No such file|command not found|unbound variable' "$OUT")"
else
    t_ok "up after a death prints no shell error"
fi
t_eq "only as-intake was started again" "as-intake" "$(sed -n 's/^stack: started \(as-[a-z]*\) .*/\1/p' "$OUT" | tr '\n' ' ' | sed 's/ $//')"
pids_after=""
for p in warranty parts settlement surveys gateway; do
    pids_after+="$p=$(cat "$SV/run/$p.pid" 2>/dev/null) "
done
t_eq "the other five programs kept their processes" "$pids_before" "$pids_after"
if curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$S_HTTP/healthz"; then t_ok "the stack is healthy after the partial start"; else t_fail "the stack is healthy after the partial start" "no 200 from /healthz"; fi
t_done
