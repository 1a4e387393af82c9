#!/usr/bin/env bash
# tests/run.sh — the test harness behind `make test`.
#
#   tests/run.sh [PATTERN]     PATTERN (an extended regex) keeps only the programs it matches
#
# 1. Brings up a throw-away stack (its own state directory, cluster and ports) when any
#    integration test is selected, and always brings it down at exit, even after a failure or
#    Ctrl-C.
# 2. Runs the unit tests, $AS_BUILD/tests/test_* (cmocka, TAP output).
# 3. Runs the integration tests against the stack: tests/integration/*.sh and
#    $AS_BUILD/tests/it_*, with the stack's env file loaded.
# 4. Prints every line of their output prefixed by the program's name, counts the TAP lines
#    (`ok ...` / `not ok ...`), and ends with exactly one line `N passed, M failed`.
#    A program that times out, crashes, or exits non-zero without reporting a failure counts
#    as one more failure; so does one that reports nothing at all.
#
# Settings (environment):
#   AS_BUILD         build directory (default build, or build/san when SAN=1)
#   AS_BIN           the programs the stack runs (default $AS_BUILD/bin)
#   AS_TEST_VAR      the test stack's state directory, deleted at start (default var/test)
#   AS_TEST_PG_PORT  (25433)  AS_TEST_PORT_BASE (7200)  AS_TEST_HTTP_PORT (8580)
#   AS_TEST_TIMEOUT  seconds each test program may take (default 600; 1200 with SAN=1, whose
#                    programs run two to three times slower)
# The test stack's settings have their own names: a shell that sourced the dev stack's env
# file has AS_VAR and AS_PG_PORT set, and the tests must never delete the dev stack's state.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

PATTERN=${1:-}
if [ "${SAN:-}" = 1 ]; then
    AS_BUILD=${AS_BUILD:-build/san}
else
    AS_BUILD=${AS_BUILD:-build}
fi
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
T_VAR=${AS_TEST_VAR:-var/test}
T_PG_PORT=${AS_TEST_PG_PORT:-25433}
T_PORT_BASE=${AS_TEST_PORT_BASE:-7200}
T_HTTP_PORT=${AS_TEST_HTTP_PORT:-8580}
if [ "${SAN:-}" = 1 ]; then
    T_TIMEOUT=${AS_TEST_TIMEOUT:-1200}
else
    T_TIMEOUT=${AS_TEST_TIMEOUT:-600}
fi

case $(realpath -m -- "$T_VAR") in
/ | "$ROOT" | "$ROOT/var") echo "run.sh: AS_TEST_VAR=$T_VAR would delete more than a test stack" >&2 && exit 2 ;;
esac

PASSED=0
FAILED=0
CUR_PID=""
STACK_TRIED=0
OUT_DIR=$T_VAR/test-output

# stack CMD — the test stack's stack.sh, with the test settings.
# The test stack's allow-list also holds `tester`, a key with no rights: the hostile client of
# it_curve / it_identity (the test programs act as the gateway or a service with those keys).
# Its gateway lets one principal send as much as the load-driving tests do (parallel storms,
# the fault load): fair share has its own test (gateway_fair_share.sh), with its own limits.
stack() {
    AS_VAR=$T_VAR AS_PG_PORT=$T_PG_PORT AS_PORT_BASE=$T_PORT_BASE AS_HTTP_PORT=$T_HTTP_PORT \
        AS_BIN=$AS_BIN AS_TEST_KEYS=tester AS_STACK_GATEWAY_CONF="$(cat deploy/local/load-limits.conf)" \
        deploy/local/stack.sh "$@"
}

# fail_line NAME REASON — a failure the harness itself observed, printed and counted like one.
fail_line() {
    printf '%s: not ok - %s\n' "$1" "$2"
    FAILED=$((FAILED + 1))
}

# run_one NAME COMMAND... — run one test program under a timeout, echo and count its lines.
# The output goes through a file followed by `tail --pid`, so that a daemon left behind by a
# test holding the pipe open cannot hang the harness.
run_one() {
    local name=$1 out rc line passes=0 fails=0 started
    shift
    out=$OUT_DIR/$name.out
    : >"$out"
    started=$SECONDS
    timeout --kill-after=10 "$T_TIMEOUT" "$@" >"$out" 2>&1 </dev/null &
    CUR_PID=$!
    while IFS= read -r line; do
        printf '%s: %s\n' "$name" "$line"
        if [[ $line =~ ^not\ ok($|[[:space:]]) ]]; then
            fails=$((fails + 1))
            FAILED=$((FAILED + 1))
        elif [[ $line =~ ^ok($|[[:space:]]) ]]; then
            passes=$((passes + 1))
            PASSED=$((PASSED + 1))
        fi
    done < <(tail -n +1 -f -s 0.2 --pid="$CUR_PID" "$out" 2>/dev/null)
    rc=0
    { wait "$CUR_PID"; } 2>/dev/null || rc=$?
    CUR_PID=""
    # timeout(1) answers 124, or 137 when the program also needed a SIGKILL.
    if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ $((SECONDS - started)) -ge "$T_TIMEOUT" ]; }; then
        fail_line "$name" "$name: timed out after $T_TIMEOUT s"
    elif [ "$rc" -gt 128 ] && [ "$fails" -eq 0 ]; then
        fail_line "$name" "$name: killed by signal $((rc - 128))"
    elif [ "$rc" -ne 0 ] && [ "$fails" -eq 0 ]; then
        fail_line "$name" "$name: exited with status $rc without reporting a failure"
    elif [ "$rc" -eq 0 ] && [ $((passes + fails)) -eq 0 ]; then
        fail_line "$name" "$name: reported no test results"
    fi
}

# selected NAME — whether NAME passes the PATTERN filter.
selected() {
    [ -z "$PATTERN" ] || [[ $1 =~ $PATTERN ]]
}

# san_reports — in the sanitizer build, a report of ASan, LSan or UBSan in any program's log or
# output is a failure even when the test that provoked it passed (UBSan reports and carries on;
# a service's leak report is printed only at its exit, after the tests). Stopped programs only:
# call it after the stack is down.
san_reports() {
    local f hit found=0
    for f in "$T_VAR"/log/*.log "$OUT_DIR"/*.out; do
        [ -f "$f" ] || continue
        hit=$(grep -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" || true)
        if [ -n "$hit" ]; then
            fail_line sanitizer "$f: $hit"
            found=1
        fi
    done
    if [ "$found" -eq 0 ]; then
        printf 'sanitizer: ok - no sanitizer report in any log or test output\n'
        PASSED=$((PASSED + 1))
    fi
}

# finish — at every exit: the stack down, then the summary as the very last line.
finish() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    if [ -n "$CUR_PID" ]; then
        kill -TERM "$CUR_PID" 2>/dev/null || true
        wait "$CUR_PID" 2>/dev/null || true
    fi
    if [ "$STACK_TRIED" -eq 1 ]; then
        stack down || echo "run.sh: stopping the test stack failed" >&2
        echo "run.sh: test stack logs are in $T_VAR/log, program output in $OUT_DIR"
    fi
    if [ "${SAN:-}" = 1 ]; then
        san_reports
    fi
    if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
        # The harness itself went wrong: that must not read as a pass.
        fail_line run.sh "the harness stopped early (status $rc)"
    fi
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if [ "$FAILED" -gt 0 ]; then exit 1; fi
    exit 0
}
trap finish EXIT
trap 'fail_line run.sh "interrupted"; exit 130' INT TERM

# ---- what to run ----------------------------------------------------------------------------

UNIT=()
SCRIPTS=()
ITS=()
for f in "$AS_BUILD"/tests/test_*; do
    if [ -f "$f" ] && [ -x "$f" ] && selected "$(basename "$f")"; then UNIT+=("$f"); fi
done
for f in tests/integration/*.sh; do
    if [ -f "$f" ] && selected "$(basename "$f")"; then SCRIPTS+=("$f"); fi
done
for f in "$AS_BUILD"/tests/it_*; do
    if [ -f "$f" ] && [ -x "$f" ] && selected "$(basename "$f")"; then ITS+=("$f"); fi
done
if [ $((${#UNIT[@]} + ${#SCRIPTS[@]} + ${#ITS[@]})) -eq 0 ]; then
    if [ -n "$PATTERN" ]; then
        fail_line run.sh "no test program matches '$PATTERN'"
    else
        fail_line run.sh "no test programs found in $AS_BUILD/tests or tests/integration (build first: make)"
    fi
    exit 1
fi

# ---- 1. the throw-away stack ----------------------------------------------------------------

STACK_OK=0
if [ $((${#SCRIPTS[@]} + ${#ITS[@]})) -gt 0 ]; then
    STACK_TRIED=1
    echo "run.sh: fresh test stack in $T_VAR (PostgreSQL $T_PG_PORT, ports $T_PORT_BASE+, HTTP $T_HTTP_PORT)"
    stack clean >/dev/null || true
    if stack up; then
        STACK_OK=1
    else
        fail_line stack "the test stack did not start (logs in $T_VAR/log)"
    fi
fi
mkdir -p "$OUT_DIR"

# ---- 2. unit tests --------------------------------------------------------------------------

for f in "${UNIT[@]}"; do
    CMOCKA_MESSAGE_OUTPUT=TAP run_one "$(basename "$f")" "$f"
done

# ---- 3. integration tests -------------------------------------------------------------------

if [ "$STACK_OK" -eq 1 ]; then
    set -a
    # shellcheck source=/dev/null
    . "$T_VAR/run/env"
    set +a
    export AS_BIN AS_BUILD
    export AS_ROOT=$ROOT
    for f in "${SCRIPTS[@]}"; do
        run_one "$(basename "$f")" bash "$f"
    done
    for f in "${ITS[@]}"; do
        run_one "$(basename "$f")" "$f"
    done
elif [ $((${#SCRIPTS[@]} + ${#ITS[@]})) -gt 0 ]; then
    echo "run.sh: integration tests skipped: no stack"
fi
