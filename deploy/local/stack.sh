#!/usr/bin/env bash
# stack.sh — the local aftersales stack: a private PostgreSQL cluster, the five services and the
# gateway, on one machine, with generated passwords, tokens and configuration.
#
#   stack.sh run              start everything, follow the logs, stop everything on Ctrl-C
#   stack.sh up               start everything in the background; returns when healthy (when
#                             some programs still run, only the missing ones are started)
#   stack.sh down             stop the programs and PostgreSQL (fine when nothing runs)
#   stack.sh status           which processes are alive, and whether the gateway is healthy
#   stack.sh psql [SERVICE]   psql as the service's role (or as the superuser); extra args pass on
#   stack.sh clean            down, then delete the state directory and its cluster
#   stack.sh keys             only the CURVE keys and allow-list (run/keys), as `up` makes them
#
# Settings (environment): AS_VAR (state directory, default var), AS_PG_PORT (25432; below the ephemeral port range),
# AS_PORT_BASE (7100), AS_HTTP_PORT (8480), AS_BIN (build/bin), AS_UP_TIMEOUT (60 seconds),
# AS_CURVE (on: ZeroMQ CURVE authentication between programs; off: plain TCP),
# AS_TEST_KEYS (test and bench stacks only: extra CURVE keys for tools that talk to the bus
# directly, as-keygen arguments `NAME[:reads=STREAM,...]`; empty by default, so `make run`'s
# allow-list holds the five services and the gateway and nothing else),
# AS_DEMO_DIR (deploy/demo: <service>.sql files loaded as that service's role once healthy),
# AS_PG_STANDBY_PORT (empty by default: a second PostgreSQL on 127.0.0.1 at this port — a
# standby that may be promoted — goes into every service's connection string as a second host,
# with target_session_attrs=read-write, so that the services follow whichever is the primary;
# stack.sh neither makes nor starts that standby: tests/faults/standby_drill.sh and
# docs/operations.md, "A standby database"),
# AS_STACK_GATEWAY_CONF (`name = value` lines added to the gateway's section: the test, bench and
# fault stacks raise the fair-share limits there, since their drivers send far more per
# principal than any real client; empty by default).
#
# What it leaves in $AS_VAR:
#   run/aftersales.conf   the configuration every program reads (holds passwords: mode 600)
#   run/tokens            sha256 of each demo bearer token, with its principal (the gateway's)
#   run/env               shell assignments for clients and tests: URL, tokens, ports
#   run/keys/             CURVE key pairs of every program and the allow-list (AS_CURVE=off: none)
#   run/secrets/          generated passwords and raw tokens (mode 700), a libpq pgpass file
#   run/<program>.pid     pid files;  run/pg/  the PostgreSQL socket directory
#   log/<program>.log     one log per program (the previous run's in .log.1), postgres.log
#   pg/data               the PostgreSQL cluster
set -euo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"

# ---- settings -------------------------------------------------------------------------------

# abs PATH — PATH made absolute against the repository root, normalised.
abs() {
    case $1 in
    /*) realpath -m -- "$1" ;;
    *) realpath -m -- "$ROOT/$1" ;;
    esac
}
# rel PATH — PATH relative to the repository root when inside it (for messages).
rel() {
    case $1 in
    "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
    *) printf '%s' "$1" ;;
    esac
}

AS_VAR=${AS_VAR:-var}
# Ports not given by the caller: for commands that act on a stack already started (down,
# status, psql, clean), the ones that stack was started with, from its env file; otherwise
# the defaults.
saved_setting() {
    local f=$1/run/env
    [ -f "$f" ] || return 0
    sed -n "s/^export $2=\([0-9][0-9]*\)\$/\1/p" "$f" 2>/dev/null | head -n 1
}
case ${1:-} in
down | status | psql | clean)
    AS_PG_PORT=${AS_PG_PORT:-$(saved_setting "$(abs "$AS_VAR")" AS_PG_PORT)}
    AS_PORT_BASE=${AS_PORT_BASE:-$(saved_setting "$(abs "$AS_VAR")" AS_PORT_BASE)}
    AS_HTTP_PORT=${AS_HTTP_PORT:-$(saved_setting "$(abs "$AS_VAR")" AS_HTTP_PORT)}
    ;;
esac
AS_PG_PORT=${AS_PG_PORT:-25432}
AS_PORT_BASE=${AS_PORT_BASE:-7100}
AS_HTTP_PORT=${AS_HTTP_PORT:-8480}
AS_BIN=${AS_BIN:-build/bin}
AS_UP_TIMEOUT=${AS_UP_TIMEOUT:-60}

# The programs: deploy/services.conf (service N listens on AS_PORT_BASE + 10N + 1 and + 2).
# shellcheck source=deploy/services.sh
. "$ROOT/deploy/services.sh"
SERVICES=("${AS_SERVICES[@]}")
PROGRAMS=("${AS_PROGRAMS[@]}")

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

for v in AS_PG_PORT AS_PORT_BASE AS_HTTP_PORT AS_UP_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[ "$AS_PG_PORT" -ne 5432 ] || die "AS_PG_PORT=5432 is the system cluster's port; pick another"
[ "$AS_PORT_BASE" -ge 1024 ] && [ "$AS_PORT_BASE" -le 65000 ] || die "AS_PORT_BASE must be in 1024..65000"

VAR=$(abs "$AS_VAR")
RUN_DIR=$VAR/run
LOG_DIR=$VAR/log
SECRETS_DIR=$RUN_DIR/secrets
BIN_DIR=$(abs "$AS_BIN")
CONFIG=$RUN_DIR/aftersales.conf
TOKENS=$RUN_DIR/tokens
KEYS_DIR=$RUN_DIR/keys
ENV_FILE=$RUN_DIR/env
GATEWAY_URL=http://127.0.0.1:$AS_HTTP_PORT
DEMO_DIR=$(abs "${AS_DEMO_DIR:-deploy/demo}")

case $VAR in
/ | "$ROOT" | /usr | /usr/* | /etc | /etc/*) die "AS_VAR=$AS_VAR is not a sensible state directory" ;;
esac

# shellcheck source=deploy/local/pg.sh
. "$ROOT/deploy/local/pg.sh"

# ---- small helpers --------------------------------------------------------------------------

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' is not installed (deploy/local/deps.sh installs what is needed)"
    done
}

# gen_hex BYTES — BYTES random bytes from /dev/urandom, as lowercase hex.
gen_hex() {
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# write_private FILE CONTENT — write FILE atomically with mode 600.
write_private() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    chmod 600 "$tmp"
    printf '%s' "$2" >"$tmp"
    mv -f "$tmp" "$1"
}

# gen_secret_file FILE BYTES — create FILE holding a new random secret unless it exists.
# Sets SECRET_FRESH to 1 when it made one, 0 when FILE was already there.
gen_secret_file() {
    if [ -s "$1" ]; then
        SECRET_FRESH=0
    else
        write_private "$1" "$(gen_hex "$2")"$'\n'
        SECRET_FRESH=1
    fi
}

# make_dirs — the state directory layout. Directories the PostgreSQL user must traverse stay
# world-searchable; secrets are for the invoking user alone.
make_dirs() {
    mkdir -p "$VAR" "$RUN_DIR" "$LOG_DIR" "$SECRETS_DIR/tokens" ||
        die "cannot create $VAR (owned by another user? AS_VAR chooses another place)"
    chmod 755 "$VAR" "$RUN_DIR" "$LOG_DIR"
    chmod 700 "$SECRETS_DIR" "$SECRETS_DIR/tokens"
}

# port_in_use PORT — whether something accepts connections on 127.0.0.1:PORT.
port_in_use() {
    (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- configuration, tokens, env -------------------------------------------------------------

# The demo principals: subject, role, site, region, and the env name of its token.
PRINCIPALS=(
    "admin admin - - ADMIN"
    "desk.sh01 center SH01 east CENTER"
    "desk.gz01 center GZ01 south CENTER_B"
    "manager.east region - east REGION"
    "warehouse warehouse WH01 - WAREHOUSE"
    "finance finance - - FINANCE"
    "reviewer reviewer - - REVIEWER"
)

# The staff accounts made at every start (kept when they exist): login, display name, role,
# site, region, and the env name of its password. The first is the bootstrap administrator.
USERS=(
    "admin|Head Office Administrator|admin|||ADMIN"
    "desk.sh01|Shanghai Xuhui Front Desk|center|SH01|east|CENTER"
    "desk.gz01|Guangzhou Tianhe Front Desk|center|GZ01|south|CENTER_B"
    "manager.east|East Region Manager|region||east|REGION"
    "warehouse|Central Warehouse|warehouse|WH01||WAREHOUSE"
    "finance|Finance Office|finance|||FINANCE"
    "reviewer|Warranty Reviewer|reviewer|||REVIEWER"
)

# user_password LOGIN — the account's password, generated once per state directory.
user_password() {
    mkdir -p "$SECRETS_DIR/passwords"
    chmod 700 "$SECRETS_DIR/passwords"
    if [ ! -s "$SECRETS_DIR/passwords/$1" ]; then
        write_private "$SECRETS_DIR/passwords/$1" "Pw-$(gen_hex 12)"$'\n'
    fi
    tr -d '\n' <"$SECRETS_DIR/passwords/$1"
}

# bootstrap_users — the first administrator and the demo staff accounts, through the API with
# the bootstrap admin token of the tokens file (an account that exists is left alone), and
# their logins in the env file.
bootstrap_users() {
    local u login name role site region envname pw body status env=""
    local admin_tok
    admin_tok=$(cat "$SECRETS_DIR/tokens/admin")
    for u in "${USERS[@]}"; do
        IFS='|' read -r login name role site region envname <<<"$u"
        pw=$(user_password "$login")
        body=$(printf '{"login":"%s","display_name":"%s","role":"%s","password":"%s"%s%s}' \
            "$login" "$name" "$role" "$pw" "${site:+,\"site\":\"$site\"}" "${region:+,\"region\":\"$region\"}")
        status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST \
            -H "Authorization: Bearer $admin_tok" -H 'Content-Type: application/json' \
            --data-binary @- "$GATEWAY_URL/v1/users" <<<"$body") || status=000
        case $status in
        201) say "created the staff account $login" ;;
        409) ;;
        *)
            warn "could not create the staff account $login (HTTP $status)"
            return 1
            ;;
        esac
        env+="export AS_${envname}_LOGIN=$login"$'\n'"export AS_${envname}_PASSWORD=$pw"$'\n'
    done
    write_private "$ENV_FILE" "$(cat "$ENV_FILE")"$'\n'"$env"
}

# write_config — aftersales.conf from the current settings (rewritten at every start).
write_config() {
    local c s i port
    c="# aftersales.conf — generated by deploy/local/stack.sh at every start; edits are lost."$'\n'
    c+="# Global settings (every program): where each service takes commands and publishes events."$'\n'
    i=1
    for s in "${SERVICES[@]}"; do
        port=$((AS_PORT_BASE + i * 10))
        c+="${s}_cmd = tcp://127.0.0.1:$((port + 1))"$'\n'
        c+="${s}_pub = tcp://127.0.0.1:$((port + 2))"$'\n'
        i=$((i + 1))
    done
    if [ "${AS_CURVE:-on}" = on ]; then
        c+="# Service-to-service authentication: CURVE keys and the allow-list (as-keygen)."$'\n'
        c+="curve_keys = $KEYS_DIR"$'\n'
    fi
    for s in "${SERVICES[@]}"; do
        c+=$'\n'"[$s]"$'\n'
        if [ -n "${AS_PG_STANDBY_PORT:-}" ]; then
            c+="db = host=127.0.0.1,127.0.0.1 port=$AS_PG_PORT,$AS_PG_STANDBY_PORT target_session_attrs=read-write connect_timeout=5 dbname=$PG_DBNAME user=as_$s password=$(cat "$SECRETS_DIR/$s.pw") application_name=as-$s"$'\n'
        else
            c+="db = host=127.0.0.1 port=$AS_PG_PORT dbname=$PG_DBNAME user=as_$s password=$(cat "$SECRETS_DIR/$s.pw") application_name=as-$s"$'\n'
        fi
        c+="log_level = info"$'\n'
    done
    c+=$'\n'"[gateway]"$'\n'
    c+="http_host = 127.0.0.1"$'\n'
    c+="http_port = $AS_HTTP_PORT"$'\n'
    c+="tokens_file = $TOKENS"$'\n'
    c+="console_dir = $ROOT/build/console"$'\n'
    if [ -n "${AS_STACK_GATEWAY_CONF:-}" ]; then
        c+="# AS_STACK_GATEWAY_CONF (a load-driving stack)"$'\n'
        c+="$AS_STACK_GATEWAY_CONF"$'\n'
    fi
    write_private "$CONFIG" "$c"
}

# write_tokens_and_env — one random bearer token per demo principal, generated once per state
# directory (kept in secrets/tokens/), then the gateway's hash file and the clients' env file.
write_tokens_and_env() {
    local p subject role site region envname tok hash tokens env
    tokens=""
    env="# Generated by deploy/local/stack.sh: source it to talk to the local stack."$'\n'
    env+="export AS_GATEWAY_URL=$GATEWAY_URL"$'\n'
    for p in "${PRINCIPALS[@]}"; do
        read -r subject role site region envname <<<"$p"
        gen_secret_file "$SECRETS_DIR/tokens/$subject" 32
        tok=$(cat "$SECRETS_DIR/tokens/$subject")
        # The gateway stores only the sha256 of the token text a client sends after "Bearer ".
        hash=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
        tokens+="$hash $subject $role $site $region"$'\n'
        env+="export AS_TOKEN_$envname=$tok"$'\n'
    done
    env+="export AS_CENTER_CODE=SH01"$'\n'
    env+="export AS_CENTER_B_CODE=GZ01"$'\n'
    env+="export AS_WAREHOUSE_CODE=WH01"$'\n'
    env+="export AS_PG_PORT=$AS_PG_PORT"$'\n'
    env+="export AS_PORT_BASE=$AS_PORT_BASE"$'\n'
    env+="export AS_HTTP_PORT=$AS_HTTP_PORT"$'\n'
    env+="export AS_VAR=$(printf '%q' "$VAR")"$'\n'
    env+="export AS_CONFIG=$(printf '%q' "$CONFIG")"$'\n'
    write_private "$TOKENS" "$tokens"
    write_private "$ENV_FILE" "$env"
}

# ---- processes ------------------------------------------------------------------------------

pidfile() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# program_pid NAME — print the pid of our running as-NAME, from its pid file. Fails when there
# is none, or when the pid now belongs to something else (after a reboot pids are reused):
# the process must be as-NAME started with this state directory's configuration file, so a
# stack of another state directory is never touched.
program_pid() {
    local f pid cmdline
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # (2>/dev/null before the input redirection: a vanished process must not make bash print
    # "No such file or directory".)
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"as-$1 "* && $cmdline == *"--config $CONFIG "* ]] || return 1
    printf '%s' "$pid"
}

# start_program NAME — as-NAME in its own session (Ctrl-C reaches it only through us), from
# the repository root (services find common/sql and their migrations relative to it).
start_program() {
    local name=$1 log=$LOG_DIR/$1.log pid
    if [ -f "$log" ]; then mv -f "$log" "$log.1"; fi
    setsid "$BIN_DIR/as-$name" --config "$CONFIG" >>"$log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$(pidfile "$name")"
    # Until the child has exec'd, /proc/PID/cmdline is still this shell's, and program_pid
    # would call the program dead: wait (up to 5 s) for the exec or the child's end.
    local i
    for ((i = 0; i < 250; i++)); do
        program_pid "$name" >/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    say "started as-$name (pid $pid, log $(rel "$log"))"
}

# stop_programs NAME... — SIGTERM to each, up to 10 s for all of them to exit, then SIGKILL.
stop_programs() {
    local name pid i alive
    local -a pids=() names=()
    for name in "$@"; do
        if pid=$(program_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
        rm -f "$(pidfile "$name")"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    say "stopping ${names[*]}"
    for ((i = 0; i < 100; i++)); do
        alive=0
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        [ "$alive" -eq 1 ] || return 0
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            warn "as-${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 10 s; killing it"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
    done
}

# stop_all_programs — the gateway first (no new requests), then the services.
stop_all_programs() {
    stop_programs gateway
    stop_programs "${SERVICES[@]}"
}

# print_log_tails — the end of every log, for a start that went wrong.
print_log_tails() {
    local name f
    for name in "${PROGRAMS[@]}" postgres; do
        f=$LOG_DIR/$name.log
        [ -s "$f" ] || continue
        printf '\n==> %s (last 25 lines) <==\n' "$(rel "$f")" >&2
        tail -n 25 "$f" >&2
    done
    printf '\n' >&2
}

# wait_healthy — until the gateway's /healthz answers 200 (every service answered it), a
# program dies, a stop is requested, or AS_UP_TIMEOUT passes.
wait_healthy() {
    local deadline name
    deadline=$((SECONDS + AS_UP_TIMEOUT))
    say "waiting for $GATEWAY_URL/healthz (up to $AS_UP_TIMEOUT s)"
    while :; do
        for name in "${PROGRAMS[@]}"; do
            if ! program_pid "$name" >/dev/null; then
                warn "as-$name exited during start-up"
                print_log_tails
                return 1
            fi
        done
        if curl -sf -o /dev/null --max-time 2 "$GATEWAY_URL/healthz"; then
            return 0
        fi
        if [ "${STOP_REQUESTED:-0}" -eq 1 ]; then
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "not healthy after $AS_UP_TIMEOUT s"
            print_log_tails
            return 1
        fi
        sleep 0.5
    done
}

# load_demo_data — deploy/demo/S.sql as role as_S (the files are idempotent).
load_demo_data() {
    local s f
    for s in "${SERVICES[@]}"; do
        f=$DEMO_DIR/$s.sql
        [ -f "$f" ] || continue
        say "loading demo data $(rel "$f") as as_$s"
        PGPASSFILE=$SECRETS_DIR/pgpass "$PSQL" -X -q -v ON_ERROR_STOP=1 \
            "host=127.0.0.1 port=$AS_PG_PORT dbname=$PG_DBNAME user=as_$s application_name=stack.sh-demo" \
            -f "$f" >/dev/null || return 1
    done
}

# ---- the commands ---------------------------------------------------------------------------

# prepare — everything before the programs start: stale processes gone, PostgreSQL running
# and bootstrapped, configuration, tokens and env written, ports free.
# make_keys — CURVE key pairs for every program (kept across restarts) and the allow-list:
# exactly the services and the gateway, plus the test keys AS_TEST_KEYS names (test stacks).
make_keys() {
    [ "${AS_CURVE:-on}" = on ] || return 0
    [ -x "$BIN_DIR/as-keygen" ] || die "$(rel "$BIN_DIR")/as-keygen is missing: build first (make)"
    local -a extra=()
    read -r -a extra <<<"${AS_TEST_KEYS:-}"
    "$BIN_DIR/as-keygen" "$KEYS_DIR" "${PROGRAMS[@]}" "${extra[@]}" ||
        die "cannot make CURVE keys in $(rel "$KEYS_DIR")"
}

prepare() {
    local name port i
    local -a ports
    need curl od sha256sum setsid realpath
    for name in "${PROGRAMS[@]}"; do
        [ -x "$BIN_DIR/as-$name" ] || die "$(rel "$BIN_DIR")/as-$name is missing: build first (make)"
    done
    make_dirs
    # An earlier run of this state directory (crashed, or `up` twice): stop it first.
    stop_all_programs
    pg_start
    pg_bootstrap
    write_tokens_and_env
    make_keys
    write_config
    ports=("$AS_HTTP_PORT")
    for i in "${!SERVICES[@]}"; do
        i=$((i + 1))
        ports+=($((AS_PORT_BASE + i * 10 + 1)) $((AS_PORT_BASE + i * 10 + 2)))
    done
    for port in "${ports[@]}"; do
        if port_in_use "$port"; then
            die "port $port is already in use (another stack with the same AS_PORT_BASE/AS_HTTP_PORT?)"
        fi
    done
}

# start_all — the services, then the gateway, then wait for health and load the demo data.
start_all() {
    local s
    for s in "${SERVICES[@]}"; do
        start_program "$s"
    done
    start_program gateway
    wait_healthy || return 1
    load_demo_data || {
        warn "loading the demo data failed"
        return 1
    }
    bootstrap_users
}

print_summary() {
    local stop="make down" me=deploy/local/stack.sh
    if [ "$VAR" != "$ROOT/var" ]; then
        me="AS_VAR=$AS_VAR deploy/local/stack.sh"
        stop="$me down"
    fi
    cat <<EOF

aftersales is up.
  gateway   $GATEWAY_URL   (curl -s $GATEWAY_URL/healthz)
  console   $GATEWAY_URL/console/   (open it in a browser; sign in as below)
  env       source $(rel "$ENV_FILE")   (gateway URL, one bearer token per demo principal)
  config    $(rel "$CONFIG")
  logs      $(rel "$LOG_DIR")/<program>.log, $(rel "$LOG_DIR")/postgres.log
  sign in   \$AS_ADMIN_LOGIN / \$AS_ADMIN_PASSWORD (in the env file): POST $GATEWAY_URL/v1/auth/login
  database  $me psql [$(IFS='|'; printf '%s' "${SERVICES[*]}")]
  stop      $stop

EOF
}

# start_missing — some programs of this state directory still run (one died, or `up` twice):
# keep them and start only the missing ones, PostgreSQL first when it is down.
start_missing() {
    local name
    local -a missing=()
    for name in "${PROGRAMS[@]}"; do
        program_pid "$name" >/dev/null || missing+=("$name")
    done
    [ -f "$CONFIG" ] || return 1
    pg_start
    if [ ${#missing[@]} -eq 0 ]; then
        say "every program already runs"
    else
        say "still running: $(for name in "${PROGRAMS[@]}"; do case " ${missing[*]} " in *" $name "*) ;; *) printf '%s ' "as-$name" ;; esac; done)"
        for name in "${missing[@]}"; do
            rm -f "$(pidfile "$name")"
            start_program "$name"
        done
    fi
    wait_healthy
}

cmd_up() {
    local name
    for name in "${PROGRAMS[@]}"; do
        if program_pid "$name" >/dev/null; then
            need curl setsid realpath
            start_missing || die "the stack did not come up (logs in $(rel "$LOG_DIR"))"
            print_summary
            return 0
        fi
    done
    prepare
    if ! start_all; then
        stop_all_programs
        die "the stack did not come up (logs in $(rel "$LOG_DIR")); PostgreSQL is left running"
    fi
    print_summary
}

cmd_down() {
    pg_find_bin
    pg_locate
    stop_all_programs
    pg_stop
    say "stopped"
}

# follow_logs — in the foreground mode, every new log line with its program's name in front.
TAIL_PIDS=()
follow_logs() {
    local name f
    for name in postgres "${PROGRAMS[@]}"; do
        f=$LOG_DIR/$name.log
        [ -e "$f" ] || : >"$f"
        tail -n 0 -F --pid=$$ "$f" 2>/dev/null | sed -u "s/^/$(printf '%-10s' "$name")| /" &
        TAIL_PIDS+=("$!")
    done
}

STOP_REQUESTED=0
RUN_HEALTHY=0
on_stop_signal() {
    STOP_REQUESTED=1
}

# run_cleanup — on any exit of `run`: stop everything, let the last log lines through, exit 0
# when the stop was asked for after a healthy start.
run_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap '' INT TERM
    printf '\n'
    stop_all_programs
    pg_stop || true
    sleep 0.3
    kill "${TAIL_PIDS[@]}" 2>/dev/null || true
    if [ "$RUN_HEALTHY" -eq 1 ] && [ "$STOP_REQUESTED" -eq 1 ]; then
        say "stopped"
        exit 0
    fi
    exit "$rc"
}

cmd_run() {
    local name pid
    local -A reported=()
    trap on_stop_signal INT TERM
    trap run_cleanup EXIT
    make_dirs
    follow_logs
    prepare
    if ! start_all; then
        # Ctrl-C during start-up is a stop, not a failure.
        if [ "$STOP_REQUESTED" -eq 1 ]; then
            RUN_HEALTHY=1
            exit 0
        fi
        die "the stack did not come up"
    fi
    RUN_HEALTHY=1
    print_summary
    say "following the logs; Ctrl-C stops everything"
    while [ "$STOP_REQUESTED" -eq 0 ]; do
        sleep 1 &
        wait $! || true
        for name in "${PROGRAMS[@]}"; do
            if [ -z "${reported[$name]:-}" ] && ! pid=$(program_pid "$name"); then
                warn "as-$name is no longer running (see $(rel "$LOG_DIR")/$name.log)"
                reported[$name]=1
            fi
        done
    done
}

cmd_status() {
    local name pid rc=0 health
    pg_find_bin
    pg_locate
    for name in "${PROGRAMS[@]}"; do
        if pid=$(program_pid "$name"); then
            printf '  %-14s running   pid %s\n' "as-$name" "$pid"
        elif [ -f "$(pidfile "$name")" ]; then
            printf '  %-14s dead      (stale pid file)\n' "as-$name"
            rc=3
        else
            printf '  %-14s stopped\n' "as-$name"
            rc=3
        fi
    done
    if pg_running; then
        printf '  %-14s running   pid %s, 127.0.0.1:%s, %s\n' postgres \
            "$(head -n 1 "$PG_DATA/postmaster.pid")" "$(pg_running_port)" "$(rel "$PG_DATA")"
    else
        printf '  %-14s stopped   %s\n' postgres "$(rel "$PG_DATA")"
        rc=3
    fi
    if curl -sf -o /dev/null --max-time 3 "$GATEWAY_URL/healthz"; then
        health=healthy
    else
        health=unhealthy
        rc=3
    fi
    printf '  %-14s %s (%s/healthz)\n' gateway "$health" "$GATEWAY_URL"
    return "$rc"
}

# cmd_psql [SERVICE|super] [ARGS...] — psql as as_SERVICE (or the superuser) on the database.
cmd_psql() {
    local who=${1:-super} user
    [ $# -eq 0 ] || shift
    pg_find_bin
    [ -f "$SECRETS_DIR/pgpass" ] || die "no credentials in $(rel "$SECRETS_DIR") yet: start the stack first"
    case " ${SERVICES[*]} super " in
    *" $who "*) ;;
    *) die "psql: unknown service '$who' (one of: ${SERVICES[*]} super)" ;;
    esac
    if [ "$who" = super ]; then user=$PG_SUPERUSER; else user=as_$who; fi
    PGPASSFILE=$SECRETS_DIR/pgpass exec "$PSQL" \
        "host=127.0.0.1 port=$AS_PG_PORT dbname=$PG_DBNAME user=$user application_name=stack.sh-psql" "$@"
}

# cmd_clean — down, then remove the state directory and the cluster wherever it lives.
cmd_clean() {
    cmd_down
    if [ -d "$(pg_fallback_base)" ]; then
        rm -rf -- "$(pg_fallback_base)"
    fi
    rm -rf -- "$VAR"
    say "removed $(rel "$VAR")"
}

usage() {
    sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

main() {
    local cmd=${1:-}
    [ $# -eq 0 ] || shift
    case $cmd in
    run) cmd_run ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    psql) cmd_psql "$@" ;;
    clean) cmd_clean ;;
    keys)
        mkdir -p "$RUN_DIR"
        make_keys
        say "CURVE keys and allow-list in $(rel "$KEYS_DIR")"
        ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
