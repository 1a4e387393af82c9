#!/usr/bin/env bash
# The rules engine's golden files: as-warranty-eval turns tests/warranty/cases.jsonl into exactly
# tests/warranty/expected.jsonl (hand-checked decisions, one per case; see
# docs/warranty-engine.md). Needs only the built evaluator.
. "$(dirname "$0")/../lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
out=$("${AS_BIN:-$ROOT/build/bin}/as-warranty-eval" <"$ROOT/tests/warranty/cases.jsonl" |
    diff - "$ROOT/tests/warranty/expected.jsonl" 2>&1)
t_eq "as-warranty-eval gives the golden decisions for every case" "" "$out"
t_eq "two golden decisions list rule R-1 (a device refunded or exchanged before)" 2 \
    "$(grep -c '"R-1"' "$ROOT/tests/warranty/expected.jsonl")"
t_done
