#!/usr/bin/env bash
# tests/faults/run.sh — the fault suite behind `make test-faults` (docs/faults.md).
#
#   tests/faults/run.sh [SCENARIO...]     kill pg sigstop replay multihost (default: all, in
#                                         that order)
#
# Brings up its own stack (state directory, cluster and ports below; deleted at start), runs
# the scenarios against it while a load driver (as-faults-load) takes tickets through their
# whole journey, checks tests/invariants.sh after each, brings the stack down at exit (also
# after a failure or Ctrl-C), and ends with one line `N passed, M failed`.
#
#   kill      kill -9 of intake, warranty, parts, settlement, surveys and the gateway, in turn,
#             during one run of AS_FAULTS_TICKETS tickets; each restarted as stack.sh starts it
#   pg        PostgreSQL stopped with `pg_ctl stop -m immediate` mid-load, restarted after
#             AS_FAULTS_PG_DOWN seconds; the services reconnect by themselves
#   sigstop   surveys (a consumer of intake's stream) stopped with SIGSTOP for
#             AS_FAULTS_STOP_SECONDS at full load: intake's (the publisher's) memory stays
#             bounded, surveys catches up after SIGCONT
#   replay    every consumer's position reset to 0 (twice), so every stream is delivered again
#             from sequence 1: no table of any service may change
#   multihost deploy/multihost/run.sh: the services in separate network namespaces, a partition
#   standby   tests/faults/standby_drill.sh: a synchronous streaming replica, the primary killed
#             under load, the replica promoted, the services following it by configuration
#
# Settings (environment): AS_BUILD (build), AS_BIN ($AS_BUILD/bin),
#   AS_FAULTS_VAR (var/faults), AS_FAULTS_PG_PORT (55580), AS_FAULTS_PORT_BASE (3100),
#   AS_FAULTS_HTTP_PORT (8590), AS_FAULTS_TICKETS (5000), AS_FAULTS_PG_TICKETS (1000),
#   AS_FAULTS_STOP_TICKETS (1500), AS_FAULTS_CONCURRENCY (32), AS_FAULTS_DOWN (2: seconds a
#   killed program stays down), AS_FAULTS_PG_DOWN (5), AS_FAULTS_STOP_SECONDS (60),
#   AS_FAULTS_RSS_LIMIT_MB (256: how much the publisher may grow while its consumer is stopped),
#   AS_FAULTS_STANDBY_TICKETS (1000); the standby drill's own AS_SB_* (ports 55590/55591, 3300+,
#   HTTP 8593; state directory $AS_FAULTS_VAR-standby).
# Figures (errors seen by clients, recovery times, RSS) are printed as `# ` lines and collected
# in $AS_FAULTS_VAR/faults/figures.txt.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
export AS_BUILD AS_BIN
F_VAR=${AS_FAULTS_VAR:-var/faults}
F_PG_PORT=${AS_FAULTS_PG_PORT:-55580}
F_PORT_BASE=${AS_FAULTS_PORT_BASE:-3100}
F_HTTP_PORT=${AS_FAULTS_HTTP_PORT:-8590}
N_KILL=${AS_FAULTS_TICKETS:-5000}
N_PG=${AS_FAULTS_PG_TICKETS:-1000}
N_STOP=${AS_FAULTS_STOP_TICKETS:-1500}
CONC=${AS_FAULTS_CONCURRENCY:-32}
DOWN=${AS_FAULTS_DOWN:-2}
PG_DOWN=${AS_FAULTS_PG_DOWN:-5}
STOP_S=${AS_FAULTS_STOP_SECONDS:-60}
RSS_LIMIT_MB=${AS_FAULTS_RSS_LIMIT_MB:-256}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(kill pg sigstop replay multihost standby starts)

case $(realpath -m -- "$F_VAR") in
/ | "$ROOT" | "$ROOT/var") echo "faults: AS_FAULTS_VAR=$F_VAR would delete more than a test stack" >&2 && exit 2 ;;
esac

. "$ROOT/tests/lib.sh"
. "$ROOT/tests/faults/lib.sh"
F_LOAD=$AS_BUILD/bin/as-faults-load
[ -x "$F_LOAD" ] || {
    echo "faults: $F_LOAD is missing (make BUILD=$AS_BUILD faults-load)" >&2
    exit 2
}

stack() {
    AS_VAR=$F_VAR AS_PG_PORT=$F_PG_PORT AS_PORT_BASE=$F_PORT_BASE AS_HTTP_PORT=$F_HTTP_PORT \
        AS_BIN=$AS_BIN AS_STACK_GATEWAY_CONF="$(cat deploy/local/load-limits.conf)" \
        deploy/local/stack.sh "$@"
}
STACK_UP=0
LOAD_PIDS=()
finish() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    local p
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for name in "${F_SERVICES[@]}"; do f_signal "$name" CONT 2>/dev/null || true; done
    if [ "$STACK_UP" -eq 1 ]; then
        stack down >/dev/null 2>&1 || echo "faults: stopping the stack failed" >&2
        echo "# faults: stack logs in $F_VAR/log, driver files and figures in $F_DIR"
    fi
    if [ "$rc" -ne 0 ] && [ "$T_FAILED" -eq 0 ] && [ "${DONE:-0}" -ne 1 ]; then
        t_fail "faults: the suite stopped early" "status $rc"
    fi
    printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
    [ "$T_FAILED" -eq 0 ]
    exit $?
}
trap finish EXIT
trap 't_fail "faults: interrupted" "signal"; exit 130' INT TERM

figure() {
    t_note "$*"
    printf '%s\n' "$*" >>"$F_DIR/figures.txt"
}

# ---- the stack -------------------------------------------------------------------------------

needs_stack=0
for s in "${SCENARIOS[@]}"; do case $s in multihost | starts | standby) ;; *) needs_stack=1 ;; esac; done
if [ "$needs_stack" -eq 1 ]; then
    echo "# faults: fresh stack in $F_VAR (PostgreSQL $F_PG_PORT, ports $F_PORT_BASE+, HTTP $F_HTTP_PORT)"
    stack clean >/dev/null 2>&1 || true
    STACK_UP=1
    up_log=$(mktemp)
    if ! stack up >"$up_log" 2>&1; then
        t_fail "faults: the stack starts" "$(tail -n 30 "$up_log")"
        rm -f "$up_log"
        exit 1
    fi
    rm -f "$up_log"
    set -a
    # shellcheck source=/dev/null
    . "$F_VAR/run/env"
    set +a
    t_ok "faults: the stack is up"
fi
F_DIR=$F_VAR/faults
mkdir -p "$F_DIR"
: >"$F_DIR/figures.txt"
RUNID=$(date +%H%M%S)

# ---- kill -9 of every program in turn during one run ---------------------------------------

scenario_kill() {
    local run=kill$RUNID n=$N_KILL step i=1 name t0 t_up t_ok_ t_next rc pid_before pid_after
    local -a names=() kills=() ups=()
    f_setup_parts "$run" || {
        t_fail "kill: the parts for the load are set up" "see above"
        return
    }
    f_load_start "$run" "$n" "$CONC"
    LOAD_PIDS+=("$F_LOAD_PID")
    step=$((n / 8))
    for name in "${F_SERVICES[@]}" gateway; do
        if ! f_wait_acked "$run" $((i * step)); then
            t_fail "kill: the load reaches $((i * step)) acknowledged tickets before $name is killed" \
                "progress: $(cat "$F_DIR/$run.progress" 2>/dev/null)"
            break
        fi
        pid_before=$(f_pid "$name")
        t0=$(f_now)
        if f_kill9 "$name"; then
            t_ok "kill: as-$name (pid $pid_before) killed with SIGKILL at $(f_progress "$run" acked) acknowledged tickets"
        else
            t_fail "kill: as-$name killed with SIGKILL" "pid $pid_before was not running"
        fi
        sleep "$DOWN"
        f_start "$name"
        pid_after=$(f_pid "$name")
        if f_wait 120 f_healthy; then
            t_up=$(f_now)
            t_ok "kill: as-$name restarted (pid $pid_after) and the stack is healthy again"
        else
            t_up=$(f_now)
            t_fail "kill: as-$name restarted and the stack is healthy again" "no healthy /healthz in 120 s"
        fi
        names+=("$name")
        kills+=("$t0")
        ups+=("$t_up")
        i=$((i + 1))
    done
    rc=0
    wait "$F_LOAD_PID" || rc=$?
    t_eq "kill: the load driver finished every journey" 0 "$rc"
    f_load_summary "$run"
    for i in "${!names[@]}"; do
        t_next=${kills[$((i + 1))]:-9999999999}
        figure "kill -9 as-${names[$i]}: $(f_errors_between "$run" "${kills[$i]}" "$t_next") failed attempts seen by clients" \
            "[$(f_error_kinds "$run" "${kills[$i]}" "$t_next")], last one $(f_last_error_after "$run" "${kills[$i]}" "$t_next") s after the kill;" \
            "healthy again $(awk -v a="${kills[$i]}" -v b="${ups[$i]}" 'BEGIN {printf "%.1f", b - a}') s after the kill (${DOWN} s down)"
    done
    figure "kill run: $(f_load_result "$run" tickets) tickets, $(f_load_result "$run" requests) requests," \
        "$(f_load_result "$run" failed_attempts) failed attempts ($(f_load_result "$run" transport_errors) without answer," \
        "$(f_load_result "$run" http_5xx) 5xx: 502=$(f_load_result "$run" http_502) 503=$(f_load_result "$run" http_503) 504=$(f_load_result "$run" http_504) 500=$(f_load_result "$run" http_500))," \
        "$(f_load_result "$run" elapsed_s) s, $(f_load_result "$run" tickets_per_s) tickets/s"
    f_check_acks "$run" "$n"
    f_invariants "kill"
}

# ---- PostgreSQL immediate stop ---------------------------------------------------------------

acked_more() { [ "$(f_progress "$1" acked)" -gt "$2" ]; }
scenario_pg() {
    local run=pg$RUNID n=$N_PG t0 t1 t2 t3 t4 acked0 rc s
    local -A pids=()
    f_setup_parts "$run" || {
        t_fail "pg: the parts for the load are set up" "see above"
        return
    }
    for s in "${F_PROGRAMS[@]}"; do pids[$s]=$(f_pid "$s"); done
    f_load_start "$run" "$n" "$CONC"
    LOAD_PIDS+=("$F_LOAD_PID")
    f_wait_acked "$run" $((n / 3)) || t_fail "pg: the load reaches $((n / 3)) tickets" "$(cat "$F_DIR/$run.progress")"
    if ! f_pg_locate; then
        t_fail "pg: the cluster's data directory is known" "SHOW data_directory failed"
        return
    fi
    t0=$(f_now)
    if f_pg_stop_immediate; then
        t_ok "pg: PostgreSQL stopped with pg_ctl stop -m immediate at $(f_progress "$run" acked) acknowledged tickets"
    else
        t_fail "pg: PostgreSQL stopped with -m immediate" "pg_ctl failed"
    fi
    sleep "$PG_DOWN"
    t1=$(f_now)
    if f_pg_start; then t_ok "pg: PostgreSQL restarted (crash recovery)"; else t_fail "pg: PostgreSQL restarted" "pg_ctl start failed"; fi
    t2=$(f_now)
    acked0=$(f_progress "$run" acked)
    if f_wait 120 f_healthy; then
        t3=$(f_now)
        t_ok "pg: every service reconnected by itself (healthy)"
    else
        t3=$(f_now)
        t_fail "pg: every service reconnected by itself" \
            "not healthy 120 s after the restart: $(curl -s --max-time 5 -H "Authorization: Bearer $AS_TOKEN_ADMIN" "$AS_GATEWAY_URL/healthz" | jq -c '.services | map_values(.status)' 2>/dev/null)"$'\n'"restarted to go on: $(f_heal)"
    fi
    # The load resumes: more tickets acknowledged after the restart.
    f_wait 120 acked_more "$run" "$acked0" || t_fail "pg: the load resumes" "no ticket acknowledged in 120 s"
    t4=$(f_now)
    for s in "${F_PROGRAMS[@]}"; do
        t_eq "pg: as-$s kept running (no restart needed)" "${pids[$s]}" "$(f_pid "$s")"
    done
    rc=0
    wait "$F_LOAD_PID" || rc=$?
    t_eq "pg: the load driver finished every journey" 0 "$rc"
    f_load_summary "$run"
    figure "pg immediate stop: down $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s," \
        "start (recovery) took $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.1f", b - a}') s," \
        "services healthy $(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.1f", b - a}') s after PostgreSQL was back," \
        "load acknowledging again $(awk -v a="$t2" -v b="$t4" 'BEGIN {printf "%.1f", b - a}') s after;" \
        "$(f_errors_between "$run" "$t0" 9999999999) failed attempts seen by clients [$(f_error_kinds "$run" "$t0" 9999999999)]," \
        "the last $(f_last_error_after "$run" "$t0" 9999999999) s after the stop"
    f_check_acks "$run" "$n"
    f_invariants "pg"
}

# ---- a consumer stopped at full load: the publisher's memory ---------------------------------

intake_head() { f_q intake "SELECT coalesce((SELECT last_seq FROM outbox_streams WHERE stream = 'intake'), 0)"; }
surveys_at() { f_q surveys "SELECT coalesce((SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'), 0)"; }
surveys_past() { [ "$(surveys_at)" -ge "$1" ] 2>/dev/null; }
scenario_sigstop() {
    local run=stop$RUNID n=$N_STOP pub rss0 rss max=0 h0 h1 a0 a1 t0 t1 t2 rc k
    f_setup_parts "$run" || {
        t_fail "sigstop: the parts for the load are set up" "see above"
        return
    }
    f_load_start "$run" "$n" "$CONC"
    LOAD_PIDS+=("$F_LOAD_PID")
    f_wait_acked "$run" $((n / 6)) || t_fail "sigstop: the load reaches $((n / 6)) tickets" "$(cat "$F_DIR/$run.progress")"
    pub=$(f_pid intake)
    rss0=$(f_rss "$pub")
    h0=$(intake_head)
    a0=$(f_progress "$run" acked)
    f_signal surveys STOP
    t0=$(f_now)
    : >"$F_DIR/$run.rss"
    for k in $(seq 1 "$STOP_S"); do
        rss=$(f_rss "$pub")
        echo "$k $rss" >>"$F_DIR/$run.rss"
        [ "${rss:-0}" -le "$max" ] || max=$rss
        sleep 1
    done
    h1=$(intake_head)
    a1=$(f_progress "$run" acked)
    t_ok "sigstop: surveys was stopped for $STOP_S s while intake published $((h1 - h0)) events ($((a1 - a0)) tickets acknowledged meanwhile)"
    if [ $((h1 - h0)) -gt 0 ]; then t_ok "sigstop: the load went on at full rate while the consumer was stopped"; else
        t_fail "sigstop: the load went on while the consumer was stopped" "intake published nothing"; fi
    f_signal surveys CONT
    t1=$(f_now)
    if f_wait 180 surveys_past "$h1"; then
        t2=$(f_now)
        t_ok "sigstop: surveys caught up after SIGCONT (past sequence $h1)"
    else
        t2=$(f_now)
        t_fail "sigstop: surveys caught up after SIGCONT" "at $(surveys_at) of $h1 after 180 s"
    fi
    local growth_kb=$((max - rss0)) limit_kb=$((RSS_LIMIT_MB * 1024))
    if [ "$growth_kb" -le "$limit_kb" ]; then
        t_ok "sigstop: the publisher's memory stayed bounded (VmRSS $((rss0 / 1024)) -> max $((max / 1024)) MiB, limit +$RSS_LIMIT_MB MiB)"
    else
        t_fail "sigstop: the publisher's memory stayed bounded" "VmRSS grew by $((growth_kb / 1024)) MiB (limit $RSS_LIMIT_MB MiB)"
    fi
    rc=0
    wait "$F_LOAD_PID" || rc=$?
    t_eq "sigstop: the load driver finished every journey" 0 "$rc"
    f_load_summary "$run"
    figure "sigstop surveys ${STOP_S} s: intake published $((h1 - h0)) events meanwhile; intake VmRSS" \
        "$((rss0 / 1024)) MiB before, max $((max / 1024)) MiB during (+$((growth_kb / 1024)) MiB," \
        "$(awk -v g="$growth_kb" -v e="$((h1 - h0))" 'BEGIN {if (e > 0) printf "%.0f", g * 1024 / e; else print 0}') bytes per event held);" \
        "surveys caught up $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.1f", b - a}') s after SIGCONT;" \
        "$(f_errors_between "$run" "$t0" "$t2") failed attempts seen by clients"
    f_check_acks "$run" "$n"
    f_invariants "sigstop"
}

# ---- every stream delivered again from sequence 1, twice -------------------------------------

caught_up_all() {
    local s st last h
    for s in "${F_SERVICES[@]}"; do
        while IFS='|' read -r st last; do
            [ -n "$st" ] || continue
            h=$(f_q "$st" "SELECT coalesce((SELECT last_seq FROM outbox_streams WHERE stream = '$st'), 0)") || return 1
            [ "$last" = "$h" ] || return 1
        done < <(f_q "$s" "SELECT stream, last_seq FROM consumer_offsets" 2>/dev/null)
    done
}
restart_services() {
    local s
    for s in "${F_SERVICES[@]}"; do f_stop "$s"; done
    [ "${1:-}" != reset ] || for s in "${F_SERVICES[@]}"; do
        f_q "$s" "BEGIN; DELETE FROM consumer_applied; UPDATE consumer_offsets SET last_seq = 0, applied_at = NULL; COMMIT" >/dev/null ||
            t_fail "replay: the positions of $s are reset" "see above"
    done
    for s in "${F_SERVICES[@]}"; do f_start "$s"; done
    f_wait 120 f_healthy
}
scenario_replay() {
    local s round t0 t1 diff events
    local -A base=()
    # The baseline after a plain restart, so that whatever a start itself writes is in it.
    restart_services || t_fail "replay: the services restart" "not healthy"
    f_wait 300 caught_up_all || t_fail "replay: the consumers are caught up before the baseline" "see invariants"
    for s in "${F_SERVICES[@]}"; do base[$s]=$(f_snapshot "$s"); done
    events=0
    for s in "${F_SERVICES[@]}"; do
        events=$((events + $(f_q "$s" "SELECT coalesce(sum(last_seq), 0) FROM consumer_offsets")))
    done
    for round in 1 2; do
        t0=$(f_now)
        restart_services reset || t_fail "replay $round: the services restart" "not healthy"
        if f_wait 900 caught_up_all; then
            t1=$(f_now)
            t_ok "replay $round: every consumer re-received every stream from sequence 1 and caught up ($events deliveries)"
        else
            t1=$(f_now)
            t_fail "replay $round: every consumer caught up again" "not within 900 s"
        fi
        figure "replay $round: $events events delivered again in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s (restart included)"
        for s in "${F_SERVICES[@]}"; do
            diff=$(diff <(printf '%s\n' "${base[$s]}") <(f_snapshot "$s") | grep '^[<>]' | sed 's/^< /before: /; s/^> /after:  /')
            if [ -z "$diff" ]; then
                t_ok "replay $round: no table of $s changed ($(grep -c . <<<"${base[$s]}") tables, row counts and checksums)"
            else
                t_fail "replay $round: no table of $s changed" "$(grep -c '^before' <<<"$diff") table(s) differ (table|rows|md5)"$'\n'"$diff"
            fi
        done
    done
    f_invariants "replay"
}

# ---- the multi-host layout -------------------------------------------------------------------

scenario_multihost() {
    local out line
    if [ "$STACK_UP" -eq 1 ]; then
        stack down >/dev/null 2>&1 || true
        STACK_UP=0
    fi
    while IFS= read -r line; do
        f_relay_tap multihost "$line"
    done < <(AS_BUILD=$AS_BUILD AS_BIN=$AS_BIN deploy/multihost/run.sh 2>&1)
}

# ---- a standby database: the primary dies, the replica is promoted ---------------------------

scenario_standby() {
    local line
    while IFS= read -r line; do
        f_relay_tap standby "$line"
        case $line in "# standby drill: "*) printf '%s\n' "${line#\# }" >>"$F_DIR/figures.txt" ;; esac
    done < <(AS_BUILD=$AS_BUILD AS_BIN=$AS_BIN AS_SB_VAR=$F_VAR-standby \
        AS_SB_TICKETS=${AS_FAULTS_STANDBY_TICKETS:-1000} AS_SB_CONCURRENCY=$CONC \
        tests/faults/standby_drill.sh 2>&1)
}

# ---- the stack starts every time: 20 fresh starts of a second stack, then `up` after a death ----

scenario_starts() {
    local line
    while IFS= read -r line; do
        f_relay_tap starts "$line"
    done < <(AS_STACK_STARTS=${AS_FAULTS_STARTS:-20} AS_VAR=$F_VAR AS_PG_PORT=$F_PG_PORT \
        AS_PORT_BASE=$F_PORT_BASE AS_HTTP_PORT=$F_HTTP_PORT AS_BIN=$AS_BIN \
        tests/integration/stack_starts.sh 2>&1)
}

for s in "${SCENARIOS[@]}"; do
    case $s in
    kill | pg | sigstop | replay | multihost | standby | starts)
        echo "# ---- scenario $s ($(date +%T))"
        "scenario_$s"
        ;;
    *) t_fail "faults: unknown scenario '$s'" "one of kill pg sigstop replay multihost standby starts" ;;
    esac
done
DONE=1
