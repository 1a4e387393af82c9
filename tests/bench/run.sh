#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: the benchmark of the aftersales backend, end to end.
#
# 1. Brings up an isolated stack (its own state directory, PostgreSQL cluster and ports; the
#    state directory is wiped first so every run starts from the same empty database) and always
#    brings it down at exit, even after a failure or Ctrl-C.
# 2. Baseline on the same cluster: creates database `pgbench`, `pgbench -i -s 10`, then TPC-B
#    with 8 clients and 2 threads for BENCH_SECONDS.
# 3. Runs the load generator ($BUILD/bin/as-bench): tickets opened per second over ZeroMQ and
#    over HTTP, an open-loop latency sweep, full journeys, peak RSS. It writes
#    $BENCH_OUT/results.json, latency.svg and summary.txt.
# 4. Prints the summary.
#
# Settings (environment):
#   BUILD              build directory holding bin/as-bench (default build)
#   AS_BIN             the programs the stack runs (default $BUILD/bin)
#   BENCH_TREE         the checkout whose deploy/local/stack.sh and services run (default this
#                      repository; e.g. a `git worktree` of the last commit when the working
#                      tree's services do not start — build it there and set AS_BIN too)
#   BENCH_VAR (var/bench)  BENCH_PG_PORT (55560)  BENCH_PORT_BASE (6600)  BENCH_HTTP_PORT (8560)
#   BENCH_OUT          where the results go (default build/bench)
#   BENCH_SECONDS      measured seconds per phase (default 20); the other BENCH_* settings of
#                      the generator are listed in tests/bench/main.c and docs/benchmark.md
#   BENCH_KEEP=1       leave the stack running at the end (for poking at it; `stack.sh down`)
# The settings have their own names (not AS_VAR, AS_PG_PORT, ...): a shell that sourced a dev
# stack's env file has those set, and the benchmark must never wipe that stack's state.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"

BUILD=${BUILD:-build}
AS_BIN=$(realpath -m -- "${AS_BIN:-$BUILD/bin}")
BENCH_BIN=$(realpath -m -- "$BUILD/bin/as-bench")
TREE=$(realpath -m -- "${BENCH_TREE:-$ROOT}")
B_VAR=$(realpath -m -- "${BENCH_VAR:-var/bench}")
B_PG_PORT=${BENCH_PG_PORT:-55560}
B_PORT_BASE=${BENCH_PORT_BASE:-6600}
B_HTTP_PORT=${BENCH_HTTP_PORT:-8560}
OUT=$(realpath -m -- "${BENCH_OUT:-build/bench}")
export BENCH_SECONDS=${BENCH_SECONDS:-20}
PG_BIN=${AS_PG_BIN:-/usr/lib/postgresql/15/bin}

say() { printf 'bench: %s\n' "$*"; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

case $B_VAR in
/ | "$ROOT" | "$ROOT/var" | "$TREE" | "$TREE/var") die "BENCH_VAR=$B_VAR would wipe more than the benchmark's stack" ;;
esac
if ! [[ $BENCH_SECONDS =~ ^[0-9]+$ ]] || [ "$BENCH_SECONDS" -lt 1 ]; then
    die "BENCH_SECONDS must be a whole number of seconds"
fi
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN is missing: make bench builds it"
[ -x "$TREE/deploy/local/stack.sh" ] || die "$TREE/deploy/local/stack.sh is missing"
[ -x "$PG_BIN/pgbench" ] || die "pgbench not found in $PG_BIN (set AS_PG_BIN)"

# stack CMD — the benchmark stack's stack.sh, with the benchmark's settings.
stack() {
    AS_VAR=$B_VAR AS_PG_PORT=$B_PG_PORT AS_PORT_BASE=$B_PORT_BASE AS_HTTP_PORT=$B_HTTP_PORT \
        AS_BIN=$AS_BIN AS_TEST_KEYS=bench:reads=warranty,settlement,surveys \
        AS_STACK_GATEWAY_CONF="$(cat "$TREE/deploy/local/load-limits.conf" 2>/dev/null)" \
        "$TREE/deploy/local/stack.sh" "$@"
}

STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$STARTED" -eq 1 ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then
            say "leaving the stack up (BENCH_KEEP=1): AS_VAR=$B_VAR $TREE/deploy/local/stack.sh down"
        else
            say "bringing the stack down"
            stack down >>"$OUT/stack.log" 2>&1 || say "stack.sh down failed (see $OUT/stack.log)"
        fi
    fi
    if [ "$rc" -eq 0 ] && [ -f "$OUT/summary.txt" ]; then
        cat "$OUT/summary.txt"
        say "results: $OUT/results.json, chart: $OUT/latency.svg"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
rm -f "$OUT/results.json" "$OUT/latency.svg" "$OUT/summary.txt"
: >"$OUT/stack.log"
T0=$SECONDS

# ---- the stack ----
say "fresh stack in $B_VAR (PostgreSQL 127.0.0.1:$B_PG_PORT, ports from $B_PORT_BASE, HTTP $B_HTTP_PORT)"
STARTED=1
stack clean >>"$OUT/stack.log" 2>&1 || true
# PostgreSQL's port lies in Linux's ephemeral range (32768-60999): a client connection of any
# program can hold it for a moment, and then the server cannot bind. One more try after a pause.
if ! stack up >>"$OUT/stack.log" 2>&1; then
    say "the stack did not come up; trying once more in 5 s (see $OUT/stack.log)"
    stack down >>"$OUT/stack.log" 2>&1 || true
    sleep 5
    if ! stack up >>"$OUT/stack.log" 2>&1; then
        tail -n 40 "$OUT/stack.log" >&2
        die "the stack did not come up (full output: $OUT/stack.log)"
    fi
fi
# shellcheck disable=SC1091
. "$B_VAR/run/env"
export PGPASSFILE=$B_VAR/run/secrets/pgpass
SUPER="host=127.0.0.1 port=$B_PG_PORT user=postgres"

# The postmaster's pid (CPU of the backends): the cluster lives in the state directory, or in
# /var/tmp when its system user cannot reach it (see deploy/local/pg.sh).
PG_PID=""
for f in "$B_VAR/pg/data/postmaster.pid" /var/tmp/aftersales-*-"$B_PG_PORT"/data/postmaster.pid; do
    if [ -f "$f" ]; then
        PG_PID=$(head -n 1 "$f")
        break
    fi
done

# ---- pgbench baseline ----
say "pgbench baseline: database pgbench, scale 10, TPC-B -c 8 -j 2 -T $BENCH_SECONDS"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$SUPER dbname=postgres" \
    -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench" >/dev/null
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$B_PG_PORT" -U postgres -i -s 10 -q pgbench >"$OUT/pgbench-init.txt" 2>&1 ||
    die "pgbench -i failed: $(tail -n 5 "$OUT/pgbench-init.txt")"
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$B_PG_PORT" -U postgres -c 8 -j 2 -T "$BENCH_SECONDS" pgbench \
    >"$OUT/pgbench.txt" 2>&1 || die "pgbench failed: $(tail -n 5 "$OUT/pgbench.txt")"
PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$OUT/pgbench.txt")
PGB_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$OUT/pgbench.txt")
[ -n "$PGB_TPS" ] || die "no tps in pgbench's output ($OUT/pgbench.txt)"
say "  pgbench: $PGB_TPS tps, latency average $PGB_LAT ms"
"$PG_BIN/psql" -X -q "$SUPER dbname=postgres" -c "DROP DATABASE IF EXISTS pgbench" >/dev/null || true

# ---- the load generator ----
if ! BENCH_PG_PID=$PG_PID BENCH_PGBENCH_TPS=$PGB_TPS \
    BENCH_PGBENCH_NOTE="latency average $PGB_LAT ms; same cluster, same run, before the services' load" \
    BENCH_PG_CONNINFO="$SUPER dbname=aftersales application_name=as-bench-stats" \
    BENCH_OUT=$OUT AS_VAR=$B_VAR "$BENCH_BIN" 2>&1 | tee "$OUT/as-bench.log"; then
    die "as-bench failed (log: $OUT/as-bench.log)"
fi
say "done in $((SECONDS - T0)) s"
