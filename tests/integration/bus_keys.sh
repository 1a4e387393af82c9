#!/usr/bin/env bash
# The CURVE allow-list: `make run`'s holds the five services and the gateway and nothing else
# (tool and test keys exist only in test stacks, even when their key files lie in the same
# directory); as-keygen and the services have no size cap on it; a malformed allow-list stops a
# service at start with the line at fault instead of being read in part.
. "$(dirname "$0")/../lib.sh"

KEYGEN=$AS_BIN/as-keygen
TMP=$(mktemp -d "${TMPDIR:-/tmp}/as-bus-keys.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

names() { awk '!/^#/ && NF { print $1 }' "$1" | sort | tr '\n' ' '; }

# --- make run's allow-list -----------------------------------------------------------------
# Key files of tools made earlier in the same directory (the old allow-list listed every key
# file it found) must not reach the list.
mkdir -p "$TMP/dev/run"
"$KEYGEN" "$TMP/dev/run/keys" tester asctl >/dev/null
env -u AS_TEST_KEYS AS_VAR="$TMP/dev" AS_BIN="$AS_BIN" "$AS_ROOT/deploy/local/stack.sh" keys >/dev/null
t_eq "make run's allow-list holds the services and the gateway only" \
    "gateway intake notify parts people settlement surveys warranty " "$(names "$TMP/dev/run/keys/allowed")"
t_eq "this test stack's allow-list adds only the rights-less test key" \
    "gateway intake notify parts people settlement surveys tester warranty " \
    "$(names "$(dirname "$AS_CONFIG")/keys/allowed")"

# --- no size cap -----------------------------------------------------------------------------
many=()
for i in $(seq 1 394); do many+=("tool$i"); done
"$KEYGEN" "$TMP/big" intake warranty parts settlement surveys gateway "${many[@]}" >/dev/null
t_eq "as-keygen writes an allow-list of 400 keys whole" 400 "$(grep -vc '^#' "$TMP/big/allowed")"
"$KEYGEN" "$TMP/big" intake warranty parts settlement surveys gateway >/dev/null
t_eq "run again with fewer names, the list shrinks to them" 6 "$(grep -vc '^#' "$TMP/big/allowed")"
if "$KEYGEN" "$TMP/big" "Bad Name" >/dev/null 2>&1; then
    t_fail "as-keygen refuses a malformed name" "it accepted 'Bad Name'"
else
    t_ok "as-keygen refuses a malformed name"
fi

# A second warranty with its own keys directory reads the list, then stops at the bind (the
# stack's warranty holds the port): it never reaches its consumers.
second_warranty() { # keys-dir -> its log on stdout
    AS_WARRANTY_CURVE_KEYS=$1 timeout 30 "$AS_BIN/as-warranty" --config "$AS_CONFIG" 2>&1 </dev/null || true
}
mkdir -p "$TMP/w400"
cp "$(dirname "$AS_CONFIG")/keys/warranty.key" "$TMP/w400/"
{
    cat "$(dirname "$AS_CONFIG")/keys/allowed"
    "$KEYGEN" "$TMP/big" "${many[@]}" >/dev/null
    grep -v '^#' "$TMP/big/allowed"
} >"$TMP/w400/allowed"
log=$(second_warranty "$TMP/w400")
n_keys=$(grep -vc '^#' "$TMP/w400/allowed")
t_match "a service reads an allow-list of $n_keys keys whole" "msg=\"CURVE on\".* allowed=${n_keys}[^0-9]" "$log"

mkdir -p "$TMP/bad"
cp "$TMP/w400/warranty.key" "$TMP/bad/"
{
    head -n 5 "$TMP/w400/allowed"
    echo "broken-line-without-key"
    tail -n +6 "$TMP/w400/allowed"
} >"$TMP/bad/allowed"
log=$(second_warranty "$TMP/bad")
t_match "a malformed allow-list stops the service, naming the line" \
    'cannot set up CURVE.*allowed line 6' "$log"
if grep -q 'msg="CURVE on"' <<<"$log"; then
    t_fail "nothing of a malformed allow-list is used" "the service turned CURVE on with it"
else
    t_ok "nothing of a malformed allow-list is used"
fi
{
    grep -v '^warranty ' "$TMP/w400/allowed"
    echo "warranty $(head -n 1 "$TMP/w400/warranty.key") reads=*"
} >"$TMP/bad/allowed"
log=$(second_warranty "$TMP/bad")
t_match "a grant on a service's key is refused (its rights come from its name)" \
    "cannot set up CURVE.*rights come from its name" "$log"

t_done
