#!/usr/bin/env bash
# tests/integration/fuzz_short.sh — a short run of every fuzzer, so `make test` replays the saved
# regression inputs and fuzzes each target a few seconds (AS_FUZZ_SECONDS, default 8).
#
# Builds the fuzzers (`make fuzz-build`, clang with libFuzzer, ASan and UBSan), then hands over to
# tests/fuzz/run.sh, which prints one TAP line per target. Without clang the whole test is skipped
# with one ok line; anything else that stops the build is a failure. Needs no running stack.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
export AS_BUILD

if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "ok - fuzzing skipped: clang not installed"
    exit 0
fi

# A make started by `make test` must not inherit the outer make's job-server settings.
if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD="$AS_BUILD" fuzz-build 2>&1); then
    echo "not ok - the fuzzers build: make fuzz-build failed (is libclang-rt-14-dev installed?)"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'
    exit 1
fi
echo "ok - the fuzzers build"
[ -z "$out" ] || printf '%s\n' "$out" | head -n 20 | sed 's/^/# /'

exec tests/fuzz/run.sh "${AS_FUZZ_SECONDS:-8}"
