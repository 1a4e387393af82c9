#!/usr/bin/env bash
# stage-keys.sh — make the CURVE keys of a multi-host installation once, on an administrator's
# machine, and sort them into one bundle per host: each host gets the key pairs of the programs
# it runs (secret), the public key of every program, and the allow-list. No host ever receives
# another host's secret keys.
#
#   deploy/multihost-example/stage-keys.sh STAGING_DIR
#
# Then copy STAGING_DIR/<host>/keys/ to /etc/aftersales/keys on that host (README.md, "Keys").
# Running it again keeps the existing keys (as-keygen never overwrites one) and rebuilds the
# bundles, so it is also the way to add a program or to ship a rotated key.
#
# The hosts and their programs: edit HOSTS to match your installation.
set -euo pipefail

HOSTS=(
    "edge-1 gateway"
    "app-1 intake warranty"
    "app-2 parts settlement"
    "app-3 surveys"
)
ALL=(intake warranty parts settlement surveys gateway)
KEYGEN=${AS_KEYGEN:-build/bin/as-keygen}

[ $# -eq 1 ] || {
    sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
    exit 2
}
STAGING=$1
[ -x "$KEYGEN" ] || {
    echo "stage-keys.sh: $KEYGEN is missing (make, or set AS_KEYGEN)" >&2
    exit 1
}
umask 077
mkdir -p "$STAGING/all"
# Every key pair and the allow-list, in one place that never leaves this machine.
"$KEYGEN" "$STAGING/all" "${ALL[@]}"

for entry in "${HOSTS[@]}"; do
    read -r host programs <<<"$entry"
    dir=$STAGING/$host/keys
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$STAGING/all/allowed" "$dir/"
    cp "$STAGING"/all/*.pub "$dir/"
    for p in $programs; do
        cp "$STAGING/all/$p.key" "$dir/"
    done
    chmod 644 "$dir"/*.pub "$dir/allowed"
    chmod 600 "$dir"/*.key
    echo "$host: $(cd "$dir" && echo *)"
done
echo "keep $STAGING/all offline (it holds every secret key); ship $STAGING/<host>/keys to each host"
