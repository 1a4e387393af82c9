#!/usr/bin/env bash
# tests/fuzz/run.sh — run every fuzzer for a while and print one TAP line per target.
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]     SECONDS per target (default 10); all targets
#                                              unless some are named
#
# Builds nothing: the fuzzers must exist in $AS_BUILD/fuzz/bin (`make fuzz-build`). For each
# target it first replays the saved regression inputs tests/fuzz/regressions/<target>/* (every
# file once), then fuzzes for SECONDS starting from the committed seeds tests/fuzz/corpus/<target>
# plus what earlier runs found ($AS_BUILD/fuzz/run/<target>/corpus, the only corpus written to).
# Output:
#   ok - fuzz_envelope ran 123456 execs without a crash
#   not ok - fuzz_http: crash, input saved as build/fuzz/run/fuzz_http/artifacts/crash-…
# followed by the first lines of the report as TAP comments; full logs are in
# $AS_BUILD/fuzz/run/<target>/log. Exit status 1 when any target failed.
#
# Settings (environment): AS_BUILD (default build), AS_FUZZ_BIN (default $AS_BUILD/fuzz/bin),
# AS_FUZZ_WORK (default $AS_BUILD/fuzz/run). docs/fuzzing.md has the details.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"

SECS=${1:-10}
[ $# -gt 0 ] && shift
case $SECS in '' | *[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS [TARGET...]]" >&2 && exit 2 ;; esac
AS_BUILD=${AS_BUILD:-build}
BIN=${AS_FUZZ_BIN:-$AS_BUILD/fuzz/bin}
WORK=${AS_FUZZ_WORK:-$AS_BUILD/fuzz/run}
ALL=(fuzz_envelope fuzz_pbjson fuzz_intake_validate fuzz_warranty_eval fuzz_http fuzz_gateway_query)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

# Longest input per target: wire frames and JSON documents are a few KiB; an HTTP connection
# carries several pipelined requests.
max_len() {
    case $1 in
    fuzz_intake_validate | fuzz_warranty_eval) echo 4096 ;;
    *) echo 8192 ;;
    esac
}

# Symbolized stacks even where only the versioned llvm-symbolizer is installed.
if ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
        [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$s}
    done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

FAILED=0

# report_fail TARGET MESSAGE LOG — the TAP failure line and the heart of the report.
report_fail() {
    FAILED=$((FAILED + 1))
    printf 'not ok - %s: %s (log: %s)\n' "$1" "$2" "$3"
    grep -E "^==fuzz==|ERROR: |SUMMARY: |^(Direct|Indirect) leak|^ *#[0-9]+ 0x[0-9a-f]+ in .* $ROOT/" \
        "$3" 2>/dev/null | grep -v -E ' in (fuzz_fail|fail_with_output) ' | head -n 12 |
        sed 's/^/# /'
}

for t in "${TARGETS[@]}"; do
    exe=$BIN/$t
    if [ ! -x "$exe" ]; then
        FAILED=$((FAILED + 1))
        printf 'not ok - %s: %s is missing (build it: make fuzz-build)\n' "$t" "$exe"
        continue
    fi
    dir=$WORK/$t
    mkdir -p "$dir/corpus" "$dir/artifacts"
    log=$dir/log
    common=(-timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")")

    # 1. Every saved regression input, once.
    regs=()
    if [ -d "tests/fuzz/regressions/$t" ]; then
        while IFS= read -r -d '' f; do regs+=("$f"); done \
            < <(find "tests/fuzz/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
    fi
    if [ ${#regs[@]} -gt 0 ]; then
        if ! timeout 600 "$exe" "${common[@]}" "${regs[@]}" >"$log" 2>&1; then
            bad=$(sed -n 's/^Running: //p' "$log" | tail -n 1)
            report_fail "$t" "regression input ${bad:-?} fails again" "$log"
            continue
        fi
    fi

    # 2. Fuzz for SECS seconds from the seeds (the work corpus first: new inputs go there).
    seeds=("$dir/corpus")
    [ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
    rc=0
    timeout $((SECS + 300)) "$exe" "${common[@]}" -max_total_time="$SECS" -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        printf 'ok - %s ran %s execs without a crash\n' "$t" "${execs:-0}"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        report_fail "$t" "did not stop after $SECS s (hung)" "$log"
    else
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        report_fail "$t" "crash after ${execs:-?} execs, input saved as ${crash:-(none; exit $rc)}" "$log"
    fi
done
[ "$FAILED" -eq 0 ]
