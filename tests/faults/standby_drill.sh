#!/usr/bin/env bash
# tests/faults/standby_drill.sh — the standby database drill (docs/operations.md, "A standby
# database"; run by `make test-faults` as the scenario `standby`; not in `make test`: with its
# own fresh stack and base backup it takes a minute or more on the shared 2-core machine even
# when small, e.g. AS_SB_TICKETS=150 tests/faults/standby_drill.sh).
#
# A stack of its own whose services connect with a two-host connection string (the primary,
# then the standby, target_session_attrs=read-write: deploy/local/stack.sh with
# AS_PG_STANDBY_PORT). Then:
#   1. a streaming replica of the cluster: pg_basebackup through a replication slot, started as a
#      hot standby on its own port, run as the cluster's own (unprivileged) user;
#   2. synchronous commit to it (synchronous_standby_names on the primary): a commit is
#      acknowledged only once the standby has flushed it;
#   3. load (as-faults-load: tickets through their whole journey); at a third of it the primary
#      is killed — SIGKILL to the postmaster and every backend, as if its host died;
#   4. after AS_SB_DOWN seconds the standby is promoted (pg_ctl promote);
#   5. the services find the new primary by themselves (no restart, no configuration change);
#      the load finishes; every ticket acknowledged — before the kill and after — exists on the
#      new primary, none is there twice, and tests/invariants.sh holds against it.
# Prints TAP lines and ends with `N passed, M failed`; figures as `# ` lines.
#
# Settings (environment): AS_BUILD (build), AS_BIN ($AS_BUILD/bin), AS_SB_VAR (var/standby:
# deleted at start), AS_SB_PG_PORT (55590), AS_SB_STANDBY_PORT (55591), AS_SB_PORT_BASE (3300),
# AS_SB_HTTP_PORT (8593), AS_SB_TICKETS (1000), AS_SB_CONCURRENCY (32), AS_SB_DOWN (2: seconds
# between the kill and the promotion), AS_SB_KEEP (1: leave the stack running at the end).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
export AS_BUILD AS_BIN
SB_VAR=${AS_SB_VAR:-var/standby}
SB_PG_PORT=${AS_SB_PG_PORT:-55590}
SB_STANDBY_PORT=${AS_SB_STANDBY_PORT:-55591}
SB_PORT_BASE=${AS_SB_PORT_BASE:-3300}
SB_HTTP_PORT=${AS_SB_HTTP_PORT:-8593}
N=${AS_SB_TICKETS:-1000}
CONC=${AS_SB_CONCURRENCY:-32}
DOWN=${AS_SB_DOWN:-2}
SLOT=as_standby

case $(realpath -m -- "$SB_VAR") in
/ | "$ROOT" | "$ROOT/var") echo "standby: AS_SB_VAR=$SB_VAR would delete more than its own state" >&2 && exit 2 ;;
esac

. "$ROOT/tests/lib.sh"
. "$ROOT/tests/faults/lib.sh"
F_LOAD=$AS_BUILD/bin/as-faults-load
F_DIR=$SB_VAR/faults

stack() {
    AS_VAR=$SB_VAR AS_PG_PORT=$SB_PG_PORT AS_PG_STANDBY_PORT=$SB_STANDBY_PORT \
        AS_PORT_BASE=$SB_PORT_BASE AS_HTTP_PORT=$SB_HTTP_PORT AS_BIN=$AS_BIN \
        AS_STACK_GATEWAY_CONF="$(cat deploy/local/load-limits.conf)" deploy/local/stack.sh "$@"
}

STACK_UP=0
SB_DATA=""
finish() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    [ -z "${F_LOAD_PID:-}" ] || kill "$F_LOAD_PID" 2>/dev/null || true
    if [ "${AS_SB_KEEP:-0}" != 1 ]; then
        if [ -n "$SB_DATA" ] && [ -f "$SB_DATA/postmaster.pid" ]; then
            f_pg_ctl stop -D "$SB_DATA" -m fast -w -t 60 >/dev/null 2>&1 ||
                f_pg_ctl stop -D "$SB_DATA" -m immediate -w -t 30 >/dev/null 2>&1 || true
        fi
        [ "$STACK_UP" -eq 0 ] || stack down >/dev/null 2>&1 || echo "standby: stopping the stack failed" >&2
    fi
    [ "$STACK_UP" -eq 0 ] || echo "# standby: logs in $SB_VAR/log (the standby's: $SB_VAR/log/postgres-standby.log)"
    if [ "$rc" -ne 0 ] && [ "$T_FAILED" -eq 0 ] && [ "${DONE:-0}" -ne 1 ]; then
        t_fail "standby: the drill stopped early" "status $rc"
    fi
    printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
    [ "$T_FAILED" -eq 0 ]
    exit $?
}
trap finish EXIT
trap 't_fail "standby: interrupted" "signal"; exit 130' INT TERM

[ -x "$F_LOAD" ] || {
    t_fail "standby: the load driver is built" "$F_LOAD is missing (make BUILD=$AS_BUILD faults-load)"
    exit 1
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# ---- the stack, with the standby's port as the second host ----------------------------------

echo "# standby: fresh stack in $SB_VAR (primary $SB_PG_PORT, standby $SB_STANDBY_PORT, ports $SB_PORT_BASE+, HTTP $SB_HTTP_PORT)"
T_START=$(f_now)
stack clean >/dev/null 2>&1 || true
STACK_UP=1
mkdir -p "$SB_VAR"
if ! stack up >"$SB_VAR/up.out" 2>&1; then
    t_fail "standby: the stack starts" "$(tail -n 30 "$SB_VAR/up.out")"
    exit 1
fi
set -a
# shellcheck source=/dev/null
. "$SB_VAR/run/env"
set +a
mkdir -p "$F_DIR"
t_note "standby: the stack was up $(secs "$T_START" "$(f_now)") s after the start"
if grep -q "^db = host=127.0.0.1,127.0.0.1 port=$SB_PG_PORT,$SB_STANDBY_PORT target_session_attrs=read-write" "$AS_CONFIG"; then
    t_ok "standby: every service connects with a two-host string (primary, standby; target_session_attrs=read-write)"
else
    t_fail "standby: every service connects with a two-host string" "$(grep '^db = ' "$AS_CONFIG" | sed 's/password=[^ ]*/password=…/' | head -n 2)"
fi

# ---- 1. the replica --------------------------------------------------------------------------

f_pg_locate || {
    t_fail "standby: the primary's data directory is known" "SHOW data_directory failed"
    exit 1
}
PRIMARY_DATA=$F_PG_DATA
SB_BASE=$(dirname "$PRIMARY_DATA")/standby
SB_DATA=$SB_BASE/data
SB_LOG=$(dirname "$F_PG_LOG")/postgres-standby.log
SUPER_PW=$(cat "$AS_VAR/run/secrets/pg_super.pw")
# as_owner CMD... — as the cluster's user (PostgreSQL refuses root), from a directory it reads.
as_owner() {
    if [ "$(id -u)" -eq 0 ] && [ "$F_PG_OWNER" != root ]; then
        (cd / && runuser -u "$F_PG_OWNER" -- env PGPASSWORD="$SUPER_PW" "$@")
    else
        (cd / && PGPASSWORD=$SUPER_PW "$@")
    fi
}
# super PORT SQL — one value as the superuser.
super() {
    PGPASSWORD=$SUPER_PW PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
        "host=127.0.0.1 port=$1 dbname=aftersales user=postgres application_name=standby_drill" -c "$2"
}

rm -rf "$SB_BASE"
mkdir -p "$SB_BASE"
[ "$(id -u)" -ne 0 ] || chown "$F_PG_OWNER:" "$SB_BASE"
chmod 700 "$SB_BASE"
: >"$SB_LOG"
[ "$(id -u)" -ne 0 ] || chown "$F_PG_OWNER:" "$SB_LOG"
t0=$(f_now)
# -C -S: the slot keeps on the primary every WAL segment the standby has not received yet, from
# the backup on. -R writes standby.signal and primary_conninfo.
if as_owner "$(f_pg_bin)/pg_basebackup" -h 127.0.0.1 -p "$SB_PG_PORT" -U postgres -D "$SB_DATA" \
    -X stream -C -S "$SLOT" -R -c fast >"$SB_VAR/log/basebackup.log" 2>&1; then
    t_ok "standby: pg_basebackup copied the cluster through replication slot $SLOT ($(secs "$t0" "$(f_now)") s)"
else
    t_fail "standby: pg_basebackup copies the cluster" "$(tail -n 10 "$SB_VAR/log/basebackup.log")"
    exit 1
fi
# The copy carries the primary's settings file (deploy/local/pg.sh): the standby's own port, no
# Unix socket, and its name, which the primary's synchronous_standby_names refers to.
cat >"$SB_DATA/postgresql.aftersales.conf" <<EOF
# Written by tests/faults/standby_drill.sh: the standby of the drill.
listen_addresses = '127.0.0.1'
port = $SB_STANDBY_PORT
unix_socket_directories = ''
max_connections = 100
shared_buffers = 128MB
fsync = on
synchronous_commit = on
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d %a: '
hot_standby = on
cluster_name = '$SLOT'
EOF
[ "$(id -u)" -ne 0 ] || chown "$F_PG_OWNER:" "$SB_DATA/postgresql.aftersales.conf"
if f_pg_ctl start -D "$SB_DATA" -l "$SB_LOG" -w -t 120 >/dev/null; then
    t_ok "standby: the replica runs as a hot standby on port $SB_STANDBY_PORT"
else
    t_fail "standby: the replica starts" "$(tail -n 10 "$SB_LOG")"
    exit 1
fi
streaming() { [ "$(super "$SB_PG_PORT" "SELECT state FROM pg_stat_replication WHERE application_name = '$SLOT'")" = streaming ]; }
if f_wait 60 streaming; then
    t_ok "standby: it streams from the primary (pg_stat_replication)"
else
    t_fail "standby: it streams from the primary" "pg_stat_replication: $(super "$SB_PG_PORT" 'SELECT application_name, state FROM pg_stat_replication')"
fi
t_eq "standby: it is in recovery (read-only)" t "$(super "$SB_STANDBY_PORT" 'SELECT pg_is_in_recovery()')"

# ---- 2. synchronous commit -------------------------------------------------------------------

super "$SB_PG_PORT" "ALTER SYSTEM SET synchronous_standby_names = '$SLOT'" >/dev/null &&
    super "$SB_PG_PORT" "SELECT pg_reload_conf()" >/dev/null
is_sync() { [ "$(super "$SB_PG_PORT" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'")" = sync ]; }
if f_wait 30 is_sync; then
    t_ok "standby: commits on the primary wait for it (sync_state sync, synchronous_commit on)"
else
    t_fail "standby: commits wait for the standby" "sync_state: $(super "$SB_PG_PORT" "SELECT sync_state FROM pg_stat_replication")"
fi

# ---- 3. load, and the primary dies ------------------------------------------------------------

run=sb$(date +%H%M%S)
f_setup_parts "$run" || t_fail "standby: the parts for the load are set up" "see above"
declare -A pids=()
for s in "${F_PROGRAMS[@]}"; do pids[$s]=$(f_pid "$s"); done
f_load_start "$run" "$N" "$CONC"
f_wait_acked "$run" $((N / 3)) 600 || t_fail "standby: the load reaches $((N / 3)) tickets" "$(cat "$F_DIR/$run.progress" 2>/dev/null)"

PM=$(head -n 1 "$PRIMARY_DATA/postmaster.pid")
children=$(ps -o pid= --ppid "$PM" | tr -s ' \n' ' ')
t_kill=$(f_now)
# Every process of the primary at once, with no chance to write anything more: its host died.
# shellcheck disable=SC2086
kill -KILL "$PM" $children 2>/dev/null
# The acknowledgements the clients had when it died (a line is written after its 201).
cp "$F_DIR/$run.acks" "$F_DIR/$run.acks-at-kill"
gone() { ! kill -0 "$PM" 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$SB_PG_PORT") 2>/dev/null; }
if f_wait 30 gone; then
    t_ok "standby: the primary (postmaster $PM and $(wc -w <<<"$children") children) was killed with SIGKILL at $(grep -c . "$F_DIR/$run.acks-at-kill") acknowledged tickets"
else
    t_fail "standby: the primary was killed" "postmaster $PM still there or port $SB_PG_PORT still open"
fi

# ---- 4. promotion ------------------------------------------------------------------------------

sleep "$DOWN"
t_promote=$(f_now)
if f_pg_ctl promote -D "$SB_DATA" -w -t 60 >/dev/null; then
    t_ok "standby: promoted with pg_ctl promote"
else
    t_fail "standby: promoted with pg_ctl promote" "$(tail -n 10 "$SB_LOG")"
fi
t_promoted=$(f_now)
t_eq "standby: the new primary takes writes (not in recovery)" f "$(super "$SB_STANDBY_PORT" 'SELECT pg_is_in_recovery()')"

# ---- 5. the services follow by configuration --------------------------------------------------

acked0=$(f_progress "$run" acked)
if f_wait 120 f_healthy; then
    t_healthy=$(f_now)
    t_ok "standby: every service reconnected to the new primary by itself (healthy)"
else
    t_healthy=$(f_now)
    t_fail "standby: every service reconnected to the new primary" \
        "$(curl -s --max-time 5 -H "Authorization: Bearer $AS_TOKEN_ADMIN" "$AS_GATEWAY_URL/healthz" | jq -c '.services | map_values(.status)' 2>/dev/null)"
fi
acked_more() { [ "$(f_progress "$run" acked)" -gt "$acked0" ]; }
f_wait 120 acked_more || t_fail "standby: the load goes on after the promotion" "no ticket acknowledged in 120 s"
t_more=$(f_now)
for s in "${F_SERVICES[@]}"; do
    if grep -q "database connected.*port=$SB_STANDBY_PORT" "$AS_VAR/log/$s.log"; then
        t_ok "standby: as-$s connected to port $SB_STANDBY_PORT (its log)"
    else
        t_fail "standby: as-$s connected to port $SB_STANDBY_PORT" "$(grep 'database' "$AS_VAR/log/$s.log" | tail -n 3)"
    fi
done
dead=""
for s in "${F_PROGRAMS[@]}"; do [ "$(f_pid "$s")" = "${pids[$s]}" ] && f_alive "$s" || dead+="$s "; done
t_eq "standby: no program was restarted or reconfigured" "" "${dead% }"

rc=0
wait "$F_LOAD_PID" || rc=$?
F_LOAD_PID=""
t_eq "standby: the load driver finished every journey" 0 "$rc"
f_load_summary "$run"

# ---- nothing acknowledged was lost ------------------------------------------------------------

AS_PG_PORT=$SB_STANDBY_PORT
cut -d' ' -f2 "$F_DIR/$run.acks-at-kill" | LC_ALL=C sort -u >"$F_DIR/$run.acked-at-kill"
f_q intake "SELECT id FROM tickets WHERE customer_name = 'flt-$run'" | LC_ALL=C sort >"$F_DIR/$run.after"
lost=$(LC_ALL=C comm -23 "$F_DIR/$run.acked-at-kill" "$F_DIR/$run.after")
t_eq "standby: every ticket acknowledged before the kill ($(grep -c . "$F_DIR/$run.acked-at-kill")) is on the new primary" "" \
    "$(head -n 5 <<<"$lost" | tr '\n' ' ' | sed 's/ $//')"
f_check_acks "$run" "$N"
AS_INV_PG_PORT=$SB_STANDBY_PORT AS_INV_CUSTOMER="flt-$run" f_invariants standby

t_note "standby drill: primary killed at $(grep -c . "$F_DIR/$run.acks-at-kill") acknowledged tickets;" \
    "promoted $(secs "$t_kill" "$t_promote") s after the kill (pg_ctl promote took $(secs "$t_promote" "$t_promoted") s);" \
    "services healthy $(secs "$t_promoted" "$t_healthy") s after the promotion, load acknowledging again $(secs "$t_promoted" "$t_more") s after;" \
    "$(f_errors_between "$run" "$t_kill" 9999999999) failed attempts seen by clients [$(f_error_kinds "$run" "$t_kill" 9999999999)]," \
    "the last $(f_last_error_after "$run" "$t_kill" 9999999999) s after the kill;" \
    "the whole drill $(secs "$T_START" "$(f_now)") s"
DONE=1
