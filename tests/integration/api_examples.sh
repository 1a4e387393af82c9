#!/usr/bin/env bash
# API examples: every example of docs/api/examples/ runs against the test stack and gets, step by
# step, the status (and the answer) its comments document — so the examples cannot rot. Each
# step is one TAP line of the example itself; a line per example says it ran to its end.
# The examples talk to the stack only through $AS_GATEWAY_URL and the $AS_TOKEN_* variables.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

DIR=$API_ROOT/docs/api/examples
examples=("$DIR"/[0-9][0-9]-*.sh)
t_eq "there is an example for each main flow (7)" 7 "${#examples[@]}"

# Static rules: plain curl against $AS_GATEWAY_URL with the tokens of the env file.
bad=$(grep -nE 'https?://|Bearer [A-Za-z0-9]{20,}' "${examples[@]}" "$DIR/_lib.sh" || true)
t_eq "the examples name no host and no literal token (AS_GATEWAY_URL, AS_TOKEN_*)" "" "$bad"
undocumented=""
for f in "${examples[@]}"; do
    grep -qF "$(basename "$f")" "$API_ROOT/docs/api/README.md" || undocumented+="$(basename "$f") "
done
t_eq "docs/api/README.md lists every example" "" "$undocumented"

for f in "${examples[@]}"; do
    name=$(basename "$f" .sh)
    out=$(AS_EXAMPLES_TAP=1 RUN="t$RANDOM$RANDOM" timeout 120 bash "$f" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    steps=$(grep -c '^ok ' <<<"$out" || true)
    fails=$(grep -c '^not ok ' <<<"$out" || true)
    T_PASSED=$((T_PASSED + steps))
    T_FAILED=$((T_FAILED + fails))
    if [ "$rc" -eq 0 ] && [ "$fails" -eq 0 ] && [ "$steps" -gt 0 ]; then
        t_ok "example $name ran to its end ($steps steps)"
    else
        t_fail "example $name ran to its end" "exit status $rc after $steps steps"
    fi
done
t_done
