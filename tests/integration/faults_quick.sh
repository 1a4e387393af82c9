#!/usr/bin/env bash
# Faults, the short version that fits in `make test` (the whole suite is `make test-faults`,
# docs/faults.md): while 500 tickets go through their whole journey (open, decision, diagnosis,
# parts, repair, hand-back), intake and then parts are killed with SIGKILL and restarted, and
# PostgreSQL is stopped with `pg_ctl stop -m immediate` and restarted. Every acknowledged
# ticket exists and reaches a final state, nothing is lost or applied twice
# (tests/invariants.sh), and the services reconnect to PostgreSQL by themselves.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../faults/lib.sh"

N=${AS_FAULTS_QUICK_TICKETS:-500}
F_DIR=$AS_VAR/faults-quick
mkdir -p "$F_DIR"
run=q$(date +%H%M%S)$RANDOM
F_LOAD=${AS_BUILD:-build}/bin/as-faults-load
if [ ! -x "$F_LOAD" ]; then
    make -s --no-print-directory BUILD="${AS_BUILD:-build}" "$F_LOAD" >/dev/null 2>&1 || true
fi
if [ ! -x "$F_LOAD" ]; then
    t_fail "the fault suite's load driver is built" "$F_LOAD is missing (make faults-load)"
    t_done
fi
trap 'if [ -n "${F_LOAD_PID:-}" ]; then kill "$F_LOAD_PID" 2>/dev/null || true; fi' EXIT

if f_setup_parts "$run"; then
    t_ok "the load's parts are in stock at SH01 and GZ01"
else
    t_fail "the load's parts are in stock at SH01 and GZ01" "the parts routes refused (see above)"
fi
f_load_start "$run" "$N" 32 --ticket-timeout 200

# kill -9 at a quarter and at half of the tickets, each restarted as stack.sh starts it.
i=1
for name in intake parts; do
    f_wait_acked "$run" $((i * N / 4)) 600 || t_fail "the load reaches $((i * N / 4)) tickets" "$(cat "$F_DIR/$run.progress" 2>/dev/null)"
    pid=$(f_pid "$name")
    t0=$(f_now)
    f_kill9 "$name" && t_ok "as-$name (pid $pid) is killed with SIGKILL mid-run" ||
        t_fail "as-$name is killed with SIGKILL mid-run" "pid $pid was not running"
    sleep 1
    f_start "$name"
    if f_wait 60 f_healthy; then
        t_ok "as-$name restarts and the stack is healthy again"
    else
        t_fail "as-$name restarts and the stack is healthy again" "restarted: $(f_heal)"
    fi
    t_note "kill -9 as-$name: healthy again after $(awk -v a="$t0" -v b="$(f_now)" 'BEGIN {printf "%.1f", b - a}') s"
    i=$((i + 1))
done

# PostgreSQL: immediate stop at three quarters, 3 s down, restart.
f_wait_acked "$run" $((3 * N / 4)) 600 || t_fail "the load reaches $((3 * N / 4)) tickets" "$(cat "$F_DIR/$run.progress" 2>/dev/null)"
declare -A before=()
for s in "${F_PROGRAMS[@]}"; do before[$s]=$(f_pid "$s"); done
if f_pg_locate && f_pg_stop_immediate; then
    t_ok "PostgreSQL is stopped with pg_ctl stop -m immediate mid-run"
    sleep 3
    f_pg_start && t_ok "PostgreSQL restarts" || t_fail "PostgreSQL restarts" "pg_ctl start failed (log $F_PG_LOG)"
    if f_wait 60 f_healthy; then
        t_ok "every service reconnects to PostgreSQL by itself"
    else
        t_fail "every service reconnects to PostgreSQL by itself" \
            "not healthy 60 s after the restart: $(curl -s --max-time 5 -H "Authorization: Bearer $AS_TOKEN_ADMIN" "$AS_GATEWAY_URL/healthz" | jq -c '.services | map_values(.status)' 2>/dev/null)"$'\n'"restarted to go on: $(f_heal)"
    fi
    dead=""
    for s in "${F_PROGRAMS[@]}"; do [ "$(f_pid "$s")" = "${before[$s]}" ] || dead+="$s "; done
    t_eq "no program had to be restarted after PostgreSQL came back" "" "${dead% }"
else
    t_fail "PostgreSQL is stopped with pg_ctl stop -m immediate mid-run" "data directory: ${F_PG_DATA:-unknown}"
fi

rc=0
wait "$F_LOAD_PID" || rc=$?
t_eq "the load driver took every journey to its end" 0 "$rc"
f_load_summary "$run"
f_check_acks "$run" "$N"
AS_INV_CUSTOMER="flt-$run" AS_INV_WAIT=60 f_invariants
t_done
