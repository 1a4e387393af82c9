#!/usr/bin/env bash
# The list of programs lives in deploy/services.conf alone: the C runtime's generated header
# matches it, the running stack has exactly its services (endpoints, keys), the curve runtime
# follows its stream consumers, and no other source file spells the list out again.
. "$(dirname "$0")/../lib.sh"

root=${AS_ROOT:-.}
. "$root/deploy/services.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

listed=$(sed -e 's/#.*//' "$root/deploy/services.conf" | awk 'NF && $2 == "service" {printf "%s ", $1}')
t_eq "the programs are services.conf's services, then the gateway" "${listed}gateway" \
    "${AS_PROGRAMS[*]}"
n=${#AS_SERVICES[@]}
t_check "services.conf names at least the six business and people services" test "$n" -ge 6

"$root/deploy/services.sh" c-header "$tmp/as_services.h"
t_check "the build's as_services.h is the one services.conf gives" \
    cmp "$tmp/as_services.h" "${AS_BUILD:-build}/gen/as_services.h"

# A new service is one line: the header grows by its endpoints and its streams' consumers.
{ cat "$root/deploy/services.conf"; echo "fieldsvc service intake people"; } >"$tmp/services.conf"
AS_SERVICES_CONF=$tmp/services.conf "$root/deploy/services.sh" c-header "$tmp/new.h"
t_match "one more line: one more service" "#define AS_N_SERVICES $((n + 1))" "$(cat "$tmp/new.h")"
t_match "with its endpoints on the next ports" \
    "\"fieldsvc_cmd\", AS_CFG_STRING, \"tcp://127.0.0.1:$((7100 + 10 * (n + 1) + 1))\"" \
    "$(cat "$tmp/new.h")"
t_match "and as a consumer of the streams it follows" \
    '\{"people", \{[^}]*"fieldsvc", NULL\}\}' "$(cat "$tmp/new.h")"
t_eq "the shell side sees it too" "${listed}fieldsvc gateway" \
    "$(AS_SERVICES_CONF=$tmp/services.conf bash -c ". '$root/deploy/services.sh'; echo \"\${AS_PROGRAMS[*]}\"")"

# The running stack: one command and one event endpoint per service, one key per program.
for s in "${AS_SERVICES[@]}"; do
    t_match "the stack's configuration has $s's endpoints" \
        "${s}_cmd = tcp://[^ ]+"$'\n'"${s}_pub = tcp://" "$(cat "$AS_CONFIG")"
done
for p in "${AS_PROGRAMS[@]}"; do
    t_check "$p has its key pair and is on the allow-list" \
        bash -c "test -f '$AS_VAR/run/keys/$p.key' && grep -q '^$p ' '$AS_VAR/run/keys/allowed'"
done

# No other source spells the list out: neither in C nor in a shell array.
hits=$(cd "$root" && git grep -nE '"intake", *"warranty", *"parts", *"settlement", *"surveys", *"people"|=\(intake warranty parts settlement surveys people' \
    -- '*.c' '*.h' '*.sh' 'Makefile' '*.mk' 2>/dev/null)
t_eq "no source file repeats the list of services" "" "$hits"

t_done
