#!/usr/bin/env bash
# deploy/multihost/run.sh — the fault suite's basic scenario with every program on its own
# "host": a network namespace with its own address on a private bridge, so that nothing can
# reach anything through 127.0.0.1. Sets up, runs, tears down; cleans up everything (processes,
# PostgreSQL, namespaces) at exit, after a failure or Ctrl-C too. Prints TAP lines and ends with
# `N passed, M failed`. Needs root (ip netns); where namespaces are not permitted it prints one
# `ok - … # skipped` line and exits 0.
#
# The layout (subnet AS_MH_NET, default 10.99.0.0/24; names prefixed AS_MH_PREFIX, default asmh):
#
#   asmh-sw          the switch: bridge br0, one veth per host (nothing else lives here)
#   asmh-db          .2   PostgreSQL (its own cluster), listening on 10.99.0.2:55432
#   asmh-intake      .11  as-intake      commands :7111, events :7112
#   asmh-warranty    .12  as-warranty    :7121 / :7122
#   asmh-parts       .13  as-parts       :7131 / :7132
#   asmh-settlement  .14  as-settlement  :7141 / :7142
#   asmh-surveys     .15  as-surveys     :7151 / :7152
#   asmh-people      .16  as-people      :7161 / :7162
#   asmh-notify      .17  as-notify      :7171 / :7172
#   asmh-gateway     .20  as-gateway     HTTP :8480
#   asmh-client      .30  the load driver, curl and the invariant checker
#   asmh-edge        .40  nginx with deploy/nginx/aftersales.conf (TLS) in front of the gateway,
#                         whose trusted_proxies is this address (when nginx is installed)
#
# Each host gets its own configuration ($AS_MH_VAR/hosts/<name>.conf): the endpoints of the others at their addresses, bind_cmd and
# bind_pub on its own address, the database at 10.99.0.2, and only its own password.
#
# The scenario: AS_MH_TICKETS tickets through their journey from the client host; intake is
# killed with SIGKILL and restarted at a third; at two thirds warranty and intake are
# partitioned from each other (a blackhole route on each side) for AS_MH_PARTITION_S seconds,
# then healed; every acknowledged ticket must exist and end final, and tests/invariants.sh must
# hold, read from the client host over the network. At the end a ticket is read from the client
# host through nginx on the edge host over TLS, and the gateway must log the client host's
# address (X-Forwarded-For from its trusted proxy) and https.
#
# Settings: AS_BUILD (build), AS_BIN ($AS_BUILD/bin), AS_MH_VAR (var/multihost), AS_MH_NET
# (10.99.0), AS_MH_PREFIX (asmh), AS_MH_TICKETS (300), AS_MH_PARTITION_S (20),
# AS_MH_CONCURRENCY (32).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
MH_VAR=${AS_MH_VAR:-var/multihost}
NET=${AS_MH_NET:-10.99.0}
P=${AS_MH_PREFIX:-asmh}
N=${AS_MH_TICKETS:-300}
PART_S=${AS_MH_PARTITION_S:-20}
CONC=${AS_MH_CONCURRENCY:-32}
PG_PORT=55432
# The hosts' namespaces, bridge and addresses are the machine's, not this checkout's: two runs at
# once (two checkouts testing side by side) would tear down each other's network. The second
# waits for the first (20 minutes at most).
LOCK=${AS_MH_LOCK:-/tmp/aftersales-multihost.lock}
exec 9>>"$LOCK"
if ! flock -w 1200 9; then
    echo "not ok - multihost: another multi-host run held $LOCK for 20 minutes"
    exit 1
fi
# The programs from deploy/services.conf: service N (from 1) on $NET.(10 + N), commands on port
# 7100 + 10N + 1 and events on the next; the gateway on .20, the database on .2, the client on .30.
# shellcheck source=deploy/services.sh
. "$ROOT/deploy/services.sh"
HOSTS=(db "${AS_PROGRAMS[@]}" client edge)
declare -A ADDR=([db]=2 [$AS_GATEWAY]=20 [client]=30 [edge]=40) CMD_PORT=()
for i in "${!AS_SERVICES[@]}"; do
    ADDR[${AS_SERVICES[i]}]=$((11 + i))
    CMD_PORT[${AS_SERVICES[i]}]=$((7111 + 10 * i))
done

. "$ROOT/tests/lib.sh"
. "$ROOT/tests/faults/lib.sh"
. "$ROOT/tests/nginx.sh"
F_LOAD=$AS_BUILD/bin/as-faults-load
NGINX_PID=""

case $(realpath -m -- "$MH_VAR") in
/ | "$ROOT" | "$ROOT/var") echo "multihost: AS_MH_VAR=$MH_VAR would delete more than its own state" >&2 && exit 2 ;;
esac
[[ $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
    echo "multihost: AS_MH_NET must be the first three octets of a /24 (got '$NET')" >&2
    exit 2
}

finish_line() {
    printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
}

# ---- can we? --------------------------------------------------------------------------------
skip_all() {
    printf 'ok - multi-host run # skipped: %s\n' "$1"
    T_PASSED=1
    finish_line
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip_all "network namespaces need root"
command -v ip >/dev/null 2>&1 || skip_all "iproute2 (ip) is not installed"
for f in "$AS_BIN/as-intake" "$AS_BIN/as-gateway" "$F_LOAD"; do
    [ -x "$f" ] || {
        t_fail "multihost: the programs are built" "$f is missing (make BUILD=$AS_BUILD build faults-load)"
        finish_line
        exit 1
    }
done

ns() { printf '%s-%s' "$P" "$1"; }
# pg_ctl_db ARGS... — pg_ctl of the multi-host cluster, in the db namespace, as its owner.
pg_ctl_db() {
    local owner
    owner=$(stat -c %U "$PG_DATA_DIR")
    (cd / && ip netns exec "$(ns db)" runuser -u "$owner" -- "$(f_pg_bin)/pg_ctl" "$@")
}
nsx() { # HOST COMMAND... — run in the host's namespace
    local h=$1
    shift
    ip netns exec "$(ns "$h")" "$@"
}

# ---- teardown (always) ----------------------------------------------------------------------
CLEANED=0
cleanup() {
    [ "$CLEANED" -eq 0 ] || return 0
    CLEANED=1
    local h name pgdata
    if [ -n "${F_LOAD_PID:-}" ]; then kill "$F_LOAD_PID" 2>/dev/null || true; fi
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [ -d "$MH_VAR/run" ]; then
        for name in gateway "${F_SERVICES[@]}"; do
            f_signal "$name" CONT 2>/dev/null || true
            f_stop "$name" 2>/dev/null || true
        done
    fi
    # PostgreSQL runs in the db namespace; stop it there (fast, then immediate).
    if [ -z "${PG_DATA_DIR:-}" ] && [ -f "$MH_VAR/pg/data/postmaster.pid" ]; then
        PG_DATA_DIR=$(realpath "$MH_VAR/pg/data")
    fi
    if [ -n "${PG_DATA_DIR:-}" ] && [ -f "$PG_DATA_DIR/postmaster.pid" ]; then
        pg_ctl_db stop -D "$PG_DATA_DIR" -m fast -w -t 30 >/dev/null 2>&1 ||
            pg_ctl_db stop -D "$PG_DATA_DIR" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    for h in "${HOSTS[@]}" sw probe; do
        ip netns del "$(ns "$h")" 2>/dev/null || true
    done
    if [ -n "${PG_DATA_DIR:-}" ]; then rm -rf -- "$PG_DATA_DIR"; fi
}
on_exit() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    cleanup
    local left
    left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$P-" || true)
    if [ "$left" -eq 0 ]; then t_ok "multihost: teardown removed every namespace and process"; else
        t_fail "multihost: teardown removed every namespace" "$left left: $(ip netns list | grep "^$P-" | tr '\n' ' ')"; fi
    if [ "$rc" -ne 0 ] && [ "$T_FAILED" -eq 0 ] && [ "${DONE:-0}" -ne 1 ]; then
        t_fail "multihost: the run stopped early" "status $rc"
    fi
    echo "# multihost: logs and host configurations in $MH_VAR"
    finish_line
    [ "$T_FAILED" -eq 0 ]
    exit $?
}
trap on_exit EXIT
trap 't_fail "multihost: interrupted" "signal"; exit 130' INT TERM

# Leftovers of a run that was killed before it could clean up.
for h in "${HOSTS[@]}" sw probe; do ip netns del "$(ns "$h")" 2>/dev/null || true; done
if ! ip netns add "$(ns probe)" 2>/dev/null; then
    trap - EXIT
    skip_all "network namespaces are not permitted here (ip netns add failed)"
fi
ip netns del "$(ns probe)"

# ---- the network ----------------------------------------------------------------------------
net_up() {
    local h
    ip netns add "$(ns sw)" || return 1
    nsx sw ip link set lo up || return 1
    nsx sw ip link add br0 type bridge || return 1
    nsx sw ip link set br0 up || return 1
    for h in "${HOSTS[@]}"; do
        ip netns add "$(ns "$h")" || return 1
        nsx "$h" ip link set lo up || return 1
        # The veth is made in the switch namespace, its peer moved straight into the host's:
        # nothing is created in the namespace this script runs in.
        nsx sw ip link add "v-$h" type veth peer name eth0 netns "$(ns "$h")" || return 1
        nsx sw ip link set "v-$h" master br0 up || return 1
        nsx "$h" ip addr add "$NET.${ADDR[$h]}/24" dev eth0 || return 1
        nsx "$h" ip link set eth0 up || return 1
    done
}
if net_up; then
    t_ok "multihost: ${#HOSTS[@]} hosts on $NET.0/24 (network namespaces $P-*, bridge in $P-sw)"
else
    t_fail "multihost: the network namespaces are set up" "ip failed (see above)"
    exit 1
fi

# ---- PostgreSQL on the db host --------------------------------------------------------------
# deploy/local/stack.sh runs once inside the db host to make the cluster, roles, schemas,
# passwords, tokens, CURVE keys and demo data (its programs talk over the db host's own
# loopback); its programs are then stopped and the cluster is opened to the subnet.
export AS_VAR=$MH_VAR AS_BIN
mkdir -p "$MH_VAR"
# mh_stack CMD... — stack.sh inside the db host, with the layout's own settings (never the
# caller's: a test harness exports its own AS_PG_PORT and friends).
mh_stack() {
    nsx db env AS_VAR="$MH_VAR" AS_PG_PORT=$PG_PORT AS_PORT_BASE=7100 AS_HTTP_PORT=8480 \
        AS_BIN="$AS_BIN" AS_CURVE=on deploy/local/stack.sh "$@"
}
mh_stack clean >/dev/null 2>&1 || true
if mh_stack up >"$MH_VAR.bootstrap.log" 2>&1; then
    t_ok "multihost: the cluster is made and bootstrapped on the db host (stack.sh up inside it)"
    mv -f "$MH_VAR.bootstrap.log" "$MH_VAR/bootstrap.log"
else
    t_fail "multihost: the cluster is bootstrapped on the db host" "$(tail -n 20 "$MH_VAR.bootstrap.log")"
    exit 1
fi
for name in gateway "${F_SERVICES[@]}"; do f_stop "$name"; done
PG_DATA_DIR=$(mh_stack psql super -XAtqc 'SHOW data_directory' 2>/dev/null)
export PG_DATA_DIR
if [ -z "$PG_DATA_DIR" ]; then
    t_fail "multihost: the cluster's data directory is known" "SHOW data_directory failed"
    exit 1
fi
mh_stack psql super -XAtqc \
    "ALTER SYSTEM SET listen_addresses = '127.0.0.1,$NET.${ADDR[db]}'" >/dev/null
printf '\n# deploy/multihost/run.sh: the hosts of the multi-host layout.\nhost aftersales all %s.0/24 scram-sha-256\n' "$NET" >>"$PG_DATA_DIR/pg_hba.conf"
if pg_ctl_db restart -D "$PG_DATA_DIR" -m fast -w -t 60 -l "$(readlink -f "$MH_VAR/log/postgres.log")" >/dev/null; then
    t_ok "multihost: PostgreSQL listens on $NET.${ADDR[db]}:$PG_PORT, pg_hba admits $NET.0/24"
else
    t_fail "multihost: PostgreSQL restarts on the subnet address" "pg_ctl restart failed"
    exit 1
fi

# ---- one configuration per host -------------------------------------------------------------
set -a
# shellcheck source=/dev/null
. "$MH_VAR/run/env"
set +a
export AS_PG_HOST=$NET.${ADDR[db]} AS_PG_PORT=$PG_PORT
export AS_GATEWAY_URL=http://$NET.${ADDR[gateway]}:8480
# The env file clients (and tests/invariants.sh) read: the gateway and the database as the
# client host sees them.
sed -i -e "s|^export AS_GATEWAY_URL=.*|export AS_GATEWAY_URL=$AS_GATEWAY_URL|" "$MH_VAR/run/env"
grep -q '^export AS_PG_HOST=' "$MH_VAR/run/env" || echo "export AS_PG_HOST=$AS_PG_HOST" >>"$MH_VAR/run/env"

mkdir -p "$MH_VAR/hosts"
KEYS=$(realpath "$MH_VAR/run/keys")
TOKENS=$(realpath "$MH_VAR/run/tokens")
endpoints() {
    local s
    for s in "${F_SERVICES[@]}"; do
        printf '%s_cmd = tcp://%s.%s:%s\n' "$s" "$NET" "${ADDR[$s]}" "${CMD_PORT[$s]}"
        printf '%s_pub = tcp://%s.%s:%s\n' "$s" "$NET" "${ADDR[$s]}" $((CMD_PORT[$s] + 1))
    done
}
# host_conf NAME — the configuration of one host: every endpoint at its host's address, this
# host's binds on its own address, the database on the db host, and only its own secret.
host_conf() {
    local name=$1 a=$NET.${ADDR[$1]}
    printf '# as-%s on host %s (%s) — written by deploy/multihost/run.sh\n' "$name" "$(ns "$name")" "$a"
    printf '# Where every service takes commands and publishes events, as the other hosts see it.\n'
    endpoints
    printf 'curve_keys = %s\n\n[%s]\n' "$KEYS" "$name"
    if [ "$name" = gateway ]; then
        printf 'http_host = %s\nhttp_port = 8480\ntokens_file = %s\n' "$a" "$TOKENS"
        printf 'trusted_proxies = %s\n' "$NET.${ADDR[edge]}" # nginx on the edge host
        grep -v '^#' "$ROOT/deploy/local/load-limits.conf" # the load driver's 32 at a time
    else
        printf 'bind_cmd = tcp://%s:%s\nbind_pub = tcp://%s:%s\n' "$a" "${CMD_PORT[$name]}" "$a" $((CMD_PORT[$name] + 1))
        printf 'db = host=%s port=%s dbname=aftersales user=as_%s password=%s application_name=as-%s\n' \
            "$NET.${ADDR[db]}" "$PG_PORT" "$name" "$(cat "$MH_VAR/run/secrets/$name.pw")" "$name"
    fi
    printf 'log_level = info\n'
}
for name in "${F_SERVICES[@]}" gateway; do
    conf=$MH_VAR/hosts/$name.conf
    (umask 077 && host_conf "$name" >"$conf")
    F_CONFIG_OF[$name]=$(realpath "$conf")
    declare -g "F_EXEC_PREFIX_$name=ip netns exec $(ns "$name")"
done
F_EXEC_PREFIX_client="ip netns exec $(ns client)"
t_eq "multihost: no host configuration mentions 127.0.0.1 or localhost" "" \
    "$(grep -l '127\.0\.0\.1\|localhost' "$MH_VAR"/hosts/*.conf | tr '\n' ' ')"

# ---- start every program on its host --------------------------------------------------------
for name in "${F_SERVICES[@]}" gateway; do f_start "$name"; done
if f_wait 90 f_healthy; then
    t_ok "multihost: every program runs on its own host and the gateway on $NET.${ADDR[gateway]} is healthy"
else
    t_fail "multihost: the stack is healthy across the hosts" \
        "$(f_client curl -s --max-time 5 "$AS_GATEWAY_URL/healthz" | head -c 600)"
    exit 1
fi
# Proof that nothing goes through a loopback: every TCP connection of every program is between
# subnet addresses.
loop=""
for name in "${F_SERVICES[@]}" gateway; do
    c=$(nsx "$name" ss -Htn state established 2>/dev/null | awk '{print $3, $4}' | grep -c '127\.0\.0\.1\|::1' || true)
    [ "$c" -eq 0 ] || loop+="$name:$c "
    n=$(nsx "$name" ss -Htn state established 2>/dev/null | grep -c . || true)
    t_note "$name ($NET.${ADDR[$name]}): $n established TCP connections, peers: $(nsx "$name" ss -Htn state established 2>/dev/null | awk '{print $4}' | sed -e 's/:[0-9]*$//' -e 's/^\[::ffff://' -e 's/\]$//' | sort -u | tr '\n' ' ')"
done
t_eq "multihost: no program talks to anything over a loopback" "" "${loop% }"

# ---- the scenario ---------------------------------------------------------------------------
F_DIR=$MH_VAR/faults
mkdir -p "$F_DIR"
run=mh$(date +%H%M%S)
if f_setup_parts "$run"; then t_ok "multihost: the load's parts are in stock"; else
    t_fail "multihost: the load's parts are in stock" "see above"; fi
f_load_start "$run" "$N" "$CONC" --ticket-timeout 600

# kill -9 intake on its host at a third, restart it there.
f_wait_acked "$run" $((N / 3)) 600 || t_fail "multihost: the load reaches $((N / 3)) tickets" "$(cat "$F_DIR/$run.progress" 2>/dev/null)"
pid=$(f_pid intake)
t0=$(f_now)
f_kill9 intake && t_ok "multihost: as-intake (pid $pid, host $(ns intake)) killed with SIGKILL mid-run" ||
    t_fail "multihost: as-intake killed with SIGKILL" "pid $pid was not running"
sleep 2
f_start intake
if f_wait 90 f_healthy; then t_ok "multihost: as-intake restarted on its host; healthy again"; else
    t_fail "multihost: as-intake restarted on its host" "not healthy in 90 s: restarted $(f_heal)"; fi
figure_kill="kill -9 as-intake: healthy again $(awk -v a="$t0" -v b="$(f_now)" 'BEGIN {printf "%.1f", b - a}') s after the kill"

# Partition warranty <-> intake at two thirds.
f_wait_acked "$run" $((2 * N / 3)) 600 || t_fail "multihost: the load reaches $((2 * N / 3)) tickets" "$(cat "$F_DIR/$run.progress" 2>/dev/null)"
intake_head() { f_q intake "SELECT coalesce((SELECT last_seq FROM outbox_streams WHERE stream = 'intake'), 0)"; }
warranty_at() { f_q warranty "SELECT coalesce((SELECT last_seq FROM consumer_offsets WHERE stream = 'intake'), 0)"; }
tp=$(f_now)
nsx warranty ip route add blackhole "$NET.${ADDR[intake]}/32" &&
    nsx intake ip route add blackhole "$NET.${ADDR[warranty]}/32" &&
    t_ok "multihost: warranty and intake are partitioned (a blackhole route on each side) for $PART_S s" ||
    t_fail "multihost: the partition is made" "ip route add failed"
sleep "$PART_S"
h1=$(intake_head)
w1=$(warranty_at)
if [ "$w1" -lt "$h1" ]; then
    t_ok "multihost: the partition held warranty back (it applied $w1 of $h1 intake events)"
else
    t_fail "multihost: the partition held warranty back" "warranty is at $w1 of $h1: the partition did not cut them"
fi
th=$(f_now)
nsx warranty ip route del blackhole "$NET.${ADDR[intake]}/32"
nsx intake ip route del blackhole "$NET.${ADDR[warranty]}/32"
t_ok "multihost: the partition is healed"
warranty_past() { [ "$(warranty_at)" -ge "$1" ] 2>/dev/null; }
if f_wait 300 warranty_past "$h1"; then
    tc=$(f_now)
    t_ok "multihost: warranty caught up after the partition healed (past sequence $h1)"
else
    tc=$(f_now)
    t_fail "multihost: warranty caught up after the partition healed" "at $(warranty_at) of $h1 after 300 s"
fi

rc=0
wait "$F_LOAD_PID" || rc=$?
t_eq "multihost: the load driver took every journey to its end" 0 "$rc"
f_load_summary "$run"
t_note "$figure_kill"
t_note "partition warranty<->intake: ${PART_S} s; $(f_errors_between "$run" "$tp" "$tc") failed attempts seen by clients meanwhile; warranty caught up $(awk -v a="$th" -v b="$tc" 'BEGIN {printf "%.1f", b - a}') s after the heal"
printf 'multihost: %s; partition %s s, warranty caught up %s s after the heal; load: %s\n' \
    "$figure_kill" "$PART_S" "$(awk -v a="$th" -v b="$tc" 'BEGIN {printf "%.1f", b - a}')" \
    "$(tr '\n' ' ' <"$F_DIR/$run.out")" >"$F_DIR/figures.txt"
f_check_acks "$run" "$N"
AS_INV_WAIT=120 f_invariants "multihost"

# ---- nginx on the edge host ---------------------------------------------------------------------
if [ -n "$NGINX" ]; then
    EDGE=$NET.${ADDR[edge]}
    NG_DIR=$(realpath -m "$MH_VAR/nginx")
    rm -rf "$NG_DIR"
    GW_ADDR=$NET.${ADDR[gateway]}:8480
    if nginx_example "$NG_DIR" "$GW_ADDR" "$GW_ADDR" "$EDGE:80" "$EDGE:443"; then
        # exec all the way (ip netns exec execs nginx): the pid is nginx's master, which the
        # teardown stops (and with it its worker).
        (exec ip netns exec "$(ns edge)" "$NGINX" -p "$NG_DIR" -c "$NG_DIR/nginx.conf" -g 'daemon off;' \
            >"$NG_DIR/out" 2>&1) &
        NGINX_PID=$!
        edge_up() { f_client curl -s -o /dev/null --max-time 2 "http://$EDGE/"; }
        f_wait 15 edge_up || t_fail "multihost: nginx runs on the edge host" "$(cat "$NG_DIR/out" "$NG_DIR/logs/error.log" 2>/dev/null | tail -n 5)"
        rid=mh-nginx-$run
        tid=$(head -n 1 "$F_DIR/$run.acks" | cut -d' ' -f2)
        code=$(f_client curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "$NGINX_NAME:443:$EDGE" \
            --cacert "$NG_DIR/fullchain.pem" -H "Authorization: Bearer $AS_TOKEN_ADMIN" -H "X-Request-Id: $rid" \
            "https://$NGINX_NAME/v1/tickets/$tid")
        t_eq "multihost: ticket $tid read (admin) from the client host through nginx on the edge host (TLS, deploy/nginx/aftersales.conf)" 200 "$code"
        sleep 0.5
        t_match "multihost: the gateway logs the client host ($NET.${ADDR[client]}) and https, forwarded by its trusted proxy" \
            "client=$NET\.${ADDR[client]} proto=https" "$(grep -F "request_id=$rid" "$MH_VAR/log/gateway.log")"
    else
        t_fail "multihost: the nginx example is made ready for the edge host" "openssl or sed failed"
    fi
else
    t_ok "multihost: nginx on the edge host # skipped: nginx is not installed (Debian package nginx)"
fi
DONE=1
