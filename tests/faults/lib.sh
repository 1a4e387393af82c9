# shellcheck shell=bash
# tests/faults/lib.sh — helpers of the fault suite, sourced after tests/lib.sh (TAP helpers) by
# tests/faults/run.sh, tests/integration/faults_*.sh and deploy/multihost/run.sh.
#
# Expects AS_VAR (the stack's state directory, with run/env loaded: AS_GATEWAY_URL, AS_CONFIG,
# AS_TOKEN_*, AS_PG_PORT) and AS_BIN. Programs are started exactly as deploy/local/stack.sh
# starts them (setsid, log appended, pid file rewritten); a command prefix in F_EXEC_PREFIX_<name>
# (e.g. "ip netns exec as-intake") lets the multi-host layout reuse the same helpers.

F_ROOT=${F_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=deploy/services.sh
. "$F_ROOT/deploy/services.sh"
F_SERVICES=("${AS_SERVICES[@]}")
F_PROGRAMS=("${AS_PROGRAMS[@]}")
F_LOAD=${F_LOAD:-${AS_BUILD:-build}/bin/as-faults-load}

f_now() { date +%s.%N | cut -c1-14; }
# f_client COMMAND... — run a client-side command (curl, psql, the checker) where the clients
# live: F_EXEC_PREFIX_client, e.g. "ip netns exec asmh-client" in the multi-host layout.
f_client() {
    local -a p=()
    if [ -n "${F_EXEC_PREFIX_client:-}" ]; then read -r -a p <<<"$F_EXEC_PREFIX_client"; fi
    "${p[@]}" "$@"
}
f_say() { printf '# %s\n' "$*"; }

# f_q SERVICE SQL — a query as the service's role (fields separated by '|').
f_q() {
    PGPASSWORD=$(cat "$AS_VAR/run/secrets/$1.pw") PGCONNECT_TIMEOUT=5 f_client psql -X -q -A -t \
        -v ON_ERROR_STOP=1 \
        "host=${AS_PG_HOST:-127.0.0.1} port=$AS_PG_PORT dbname=aftersales user=as_$1 application_name=faults" \
        -c "$2"
}

f_pidfile() { printf '%s/run/%s.pid' "$AS_VAR" "$1"; }
f_pid() { cat "$(f_pidfile "$1")" 2>/dev/null; }
f_alive() {
    local pid
    pid=$(f_pid "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# f_start NAME — as stack.sh does: its own session, log appended, pid file updated.
f_start() {
    local name=$1 prefix_var="F_EXEC_PREFIX_$1" pid
    local -a prefix=()
    if [ -n "${!prefix_var:-}" ]; then read -r -a prefix <<<"${!prefix_var}"; fi
    (cd "$F_ROOT" && exec "${prefix[@]}" setsid "$AS_BIN/as-$name" --config "${F_CONFIG_OF[$name]:-$AS_CONFIG}" \
        >>"$AS_VAR/log/$name.log" 2>&1 </dev/null) &
    pid=$!
    disown "$pid" 2>/dev/null || true
    # With a prefix (ip netns exec) the subshell execs the prefix, which execs setsid, which
    # execs the program: the same pid all along.
    echo "$pid" >"$(f_pidfile "$name")"
}
declare -gA F_CONFIG_OF=()

# f_signal NAME SIGNAL — send SIGNAL to the running program.
f_signal() {
    local pid
    pid=$(f_pid "$1") || return 1
    kill "-$2" "$pid" 2>/dev/null
}

# f_gone PID N STEP — wait until PID is gone: N looks, STEP seconds apart; status 1 if it is not.
f_gone() {
    local i
    for ((i = 0; i < $2; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep "$3"
    done
    return 1
}

# f_stop NAME — SIGTERM, then up to 15 s, then SIGKILL.
f_stop() {
    local pid
    pid=$(f_pid "$1") || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    f_gone "$pid" 150 0.1 || kill -KILL "$pid" 2>/dev/null || true
}

# f_kill9 NAME — SIGKILL and wait (5 s at most) until it is gone.
f_kill9() {
    local pid
    pid=$(f_pid "$1") || return 1
    kill -KILL "$pid" 2>/dev/null || return 1
    f_gone "$pid" 100 0.05 || true
}

# f_healthy — the gateway answers /healthz with 200 (every service answered it).
f_healthy() { f_client curl -sf -o /dev/null --max-time 3 "$AS_GATEWAY_URL/healthz"; }

# f_wait SECONDS COMMAND... — until COMMAND succeeds; fails when the time is up.
f_wait() { wait_until "$@"; }

# f_rss PID — resident set size in KiB.
f_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# ---- the load ----------------------------------------------------------------------------------

# f_setup_parts RUN — two fault-suite SKUs with deep stock at the centres the load uses (SH01,
# GZ01), so that every journey reserves one part and issues another without waiting for a
# transfer. Idempotent per RUN.
f_setup_parts() {
    local run=$1 sku site st
    for sku in FLT-PORT FLT-FLEX; do
        st=$(f_client curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 30 \
            -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
            -H "Idempotency-Key: flt-$run-sku-$sku" "$AS_GATEWAY_URL/v1/parts/skus" \
            --data-binary "{\"sku\":\"$sku\",\"name\":\"fault suite $sku\",\"brand\":\"Huaxin\",\"manufacturer\":\"HUAXIN\",\"compatible_models\":[\"HX-10\"],\"unit_cost_cents\":1500,\"list_price_cents\":3900,\"defective_return_required\":false}")
        case $st in 200 | 201) ;; *) echo "setup: PUT SKU $sku answered $st" >&2 && return 1 ;; esac
        for site in SH01 GZ01; do
            st=$(f_client curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 30 \
                -H "Authorization: Bearer $AS_TOKEN_WAREHOUSE" -H 'Content-Type: application/json' \
                -H "Idempotency-Key: flt-$run-stock-$sku-$site" "$AS_GATEWAY_URL/v1/parts/receipts" \
                --data-binary "{\"site\":\"$site\",\"sku\":\"$sku\",\"qty\":100000}")
            case $st in 200 | 201) ;; *) echo "setup: receipt $sku at $site answered $st" >&2 && return 1 ;; esac
        done
    done
}

# f_load_start RUN TICKETS CONCURRENCY [EXTRA ARGS...] — the load driver in the background;
# its files are $F_DIR/RUN.{acks,errors,progress,out,err}. Sets F_LOAD_PID.
f_load_start() {
    local run=$1 n=$2 c=$3
    shift 3
    mkdir -p "$F_DIR"
    f_client "$F_LOAD" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" --token "$AS_TOKEN_CENTER_B" \
        --tickets "$n" --concurrency "$c" --run "$run" --acks "$F_DIR/$run.acks" \
        --errors "$F_DIR/$run.errors" --progress "$F_DIR/$run.progress" "$@" \
        >"$F_DIR/$run.out" 2>"$F_DIR/$run.err" &
    F_LOAD_PID=$!
}

# f_progress RUN KEY — a figure from the driver's progress file (0 when not there yet).
f_progress() {
    local v
    v=$(tr ' ' '\n' 2>/dev/null <"$F_DIR/$1.progress" | sed -n "s/^$2=//p")
    echo "${v:-0}"
}
# f_wait_acked RUN N [SECONDS] — until the driver has N acknowledged tickets.
f_wait_acked() {
    local run=$1 n=$2 deadline=$(($(date +%s) + ${3:-1800}))
    while [ "$(f_progress "$run" acked)" -lt "$n" ]; do
        kill -0 "$F_LOAD_PID" 2>/dev/null || return 1
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.3
    done
}
# f_load_result RUN KEY — a figure from the driver's summary.
f_load_result() { sed -n "s/^$2=//p" "$F_DIR/$1.out" | head -n 1; }

# f_errors_between RUN FROM TO — failed attempts the clients saw in [FROM, TO) (epoch seconds).
f_errors_between() {
    awk -v a="$2" -v b="$3" '$1 >= a && $1 < b {n++} END {print n + 0}' "$F_DIR/$1.errors" 2>/dev/null
}
# f_last_error_after RUN FROM TO — seconds from FROM to the last failure before TO (0: none).
f_last_error_after() {
    awk -v a="$2" -v b="$3" '$1 >= a && $1 < b {last = $1} END {if (last) printf "%.1f", last - a; else print 0}' \
        "$F_DIR/$1.errors" 2>/dev/null
}
# f_error_kinds RUN FROM TO — failures in the window by status (0 = no answer), e.g. "504:12 0:3".
f_error_kinds() {
    awk -v a="$2" -v b="$3" '$1 >= a && $1 < b {k[$4]++} END {for (s in k) printf "%s:%d ", s, k[s]}' \
        "$F_DIR/$1.errors" 2>/dev/null
}

# f_check_acks RUN N — TAP checks: the driver acknowledged N tickets and every one reached a
# final state; every acknowledged ticket exists in intake; the run made no other ticket.
f_check_acks() {
    local run=$1 n=$2 acked final missing indb
    acked=$(cut -d' ' -f2 "$F_DIR/$run.acks" | LC_ALL=C sort -u | grep -c .)
    final=$(f_load_result "$run" final)
    t_eq "all $n tickets of run $run were acknowledged (each exactly once)" "$n $n" \
        "$(grep -c . "$F_DIR/$run.acks") $acked"
    t_eq "every ticket of run $run reached a final state (driver)" "$n" "${final:-?}"
    cut -d' ' -f2 "$F_DIR/$run.acks" | LC_ALL=C sort -u >"$F_DIR/$run.acked_ids"
    f_q intake "SELECT id FROM tickets WHERE customer_name = 'flt-$run'" | LC_ALL=C sort >"$F_DIR/$run.db_ids"
    missing=$(LC_ALL=C comm -23 "$F_DIR/$run.acked_ids" "$F_DIR/$run.db_ids" | grep -c .)
    indb=$(grep -c . "$F_DIR/$run.db_ids")
    t_eq "every acknowledged ticket of run $run exists ($acked acknowledged)" 0 "$missing"
    t_eq "run $run made no ticket it did not acknowledge (retries applied once)" "$acked" "$indb"
    t_eq "every ticket of run $run is in a final state (database)" 0 \
        "$(f_q intake "SELECT count(*) FROM tickets WHERE customer_name = 'flt-$run'
                         AND state NOT IN ('closed', 'cancelled', 'declined', 'refunded', 'exchanged')")"
}

# f_load_summary RUN — the driver's figures as TAP comments.
f_load_summary() {
    t_note "run $1: $(tr '\n' ' ' <"$F_DIR/$1.out")"
    if [ -s "$F_DIR/$1.err" ]; then
        t_note "driver diagnostics (first lines):"$'\n'"$(head -n 5 "$F_DIR/$1.err")"
    fi
}

# f_relay_tap PREFIX LINE — a TAP line of another program as one of ours (counted), with
# "PREFIX: " before its name unless it is there already; other lines pass as they are.
f_relay_tap() {
    local p=${1:+$1: } rest
    case $2 in
    "ok - "*)
        rest=${2#ok - }
        [[ -z $p || $rest == "$p"* ]] || rest=$p$rest
        T_PASSED=$((T_PASSED + 1))
        printf 'ok - %s\n' "$rest"
        ;;
    "not ok - "*)
        rest=${2#not ok - }
        [[ -z $p || $rest == "$p"* ]] || rest=$p$rest
        T_FAILED=$((T_FAILED + 1))
        printf 'not ok - %s\n' "$rest"
        ;;
    *" passed, "*" failed") ;;
    *) printf '%s\n' "$2" ;;
    esac
}

# f_invariants [LABEL] — tests/invariants.sh against this stack; its lines are TAP lines of ours.
f_invariants() {
    local out line
    out=$(AS_VAR=$AS_VAR AS_INV_WAIT=${AS_INV_WAIT:-120} f_client "$F_ROOT/tests/invariants.sh" 2>&1)
    while IFS= read -r line; do
        f_relay_tap "${1:-}" "$line"
    done <<<"$out"
}

# ---- PostgreSQL ---------------------------------------------------------------------------------

f_pg_bin() {
    local d
    if [ -n "${AS_PG_BIN:-}" ]; then echo "$AS_PG_BIN" && return; fi
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then echo /usr/lib/postgresql/15/bin && return; fi
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && echo "$d"; done | tail -n 1
}
# f_pg_locate — F_PG_DATA, F_PG_OWNER, F_PG_LOG of the running cluster (asked as superuser).
f_pg_locate() {
    F_PG_DATA=$(AS_VAR=$AS_VAR "$F_ROOT/deploy/local/stack.sh" psql super -XAtqc 'SHOW data_directory' 2>/dev/null)
    [ -n "$F_PG_DATA" ] || return 1
    F_PG_OWNER=$(stat -c %U "$F_PG_DATA")
    F_PG_LOG=$(readlink -f "$AS_VAR/log/postgres.log")
}
f_pg_ctl() {
    if [ "$(id -u)" -eq 0 ] && [ "$F_PG_OWNER" != root ]; then
        (cd / && runuser -u "$F_PG_OWNER" -- "$(f_pg_bin)/pg_ctl" "$@")
    else
        (cd / && "$(f_pg_bin)/pg_ctl" "$@")
    fi
}
f_pg_stop_immediate() { f_pg_ctl stop -D "$F_PG_DATA" -m immediate -w -t 30 >/dev/null; }
f_pg_start() { f_pg_ctl start -D "$F_PG_DATA" -l "$F_PG_LOG" -w -t 120 >/dev/null; }

# ---- snapshots (replay) -------------------------------------------------------------------------

# f_snapshot SERVICE — one line per table of the schema: name, row count, md5 of the sorted rows.
# The consumer bookkeeping is taken without its timestamps (applied_at).
f_snapshot() {
    local s=$1 tables sql="" t
    tables=$(f_q "$s" "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = '$s' AND c.relkind IN ('r', 'p') ORDER BY 1") || return 1
    for t in $tables; do
        [ -z "$sql" ] || sql+=" UNION ALL "
        case $t in
        consumer_offsets) sql+="SELECT '$t', count(*), md5(coalesce(string_agg(stream || ':' || last_seq, ',' ORDER BY stream), '')) FROM consumer_offsets" ;;
        consumer_applied) sql+="SELECT '$t', count(*), md5(coalesce(string_agg(stream || ':' || seq, ',' ORDER BY stream, seq), '')) FROM consumer_applied" ;;
        # The consumers' positions as last reported to the publisher: reported_at is when.
        outbox_consumers) sql+="SELECT '$t', count(*), md5(coalesce(string_agg(stream || ':' || consumer || ':' || applied_seq, ',' ORDER BY stream, consumer), '')) FROM outbox_consumers" ;;
        *) sql+="SELECT '$t', count(*), md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM \"$t\" x" ;;
        esac
    done
    f_q "$s" "$sql ORDER BY 1"
}

# f_heal — restart every program that is dead or not healthy (after a fault the system did not
# survive), so that what runs after this still has a working stack. Prints what it restarted.
f_heal() {
    local name body st restarted=()
    for name in "${F_SERVICES[@]}"; do
        body=$(f_client curl -s --max-time 5 -H "Authorization: Bearer $AS_TOKEN_ADMIN" "$AS_GATEWAY_URL/healthz" 2>/dev/null)
        st=$(printf '%s' "$body" | jq -r ".services.$name.status // \"unknown\"" 2>/dev/null)
        if ! f_alive "$name" || [ "$st" != ok ]; then
            f_stop "$name"
            f_start "$name"
            restarted+=("$name")
        fi
    done
    if ! f_alive gateway || ! f_client curl -s -o /dev/null --max-time 5 "$AS_GATEWAY_URL/healthz"; then
        f_stop gateway
        f_start gateway
        restarted+=(gateway)
    fi
    f_wait 60 f_healthy || true
    echo "${restarted[*]}"
}
