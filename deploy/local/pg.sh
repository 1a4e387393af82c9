# shellcheck shell=bash
# pg.sh — the private PostgreSQL cluster of the local stack. Sourced by stack.sh, never run.
#
# The cluster is ours alone: its own data directory, socket directory and log, listening on
# 127.0.0.1:$AS_PG_PORT only. The system cluster (5432) is never touched.
#
# PostgreSQL refuses to run as root. When this runs as root, the server programs run as the
# owner of an existing data directory, or as the system user `aftersales` (created on demand)
# for a new one. That user must be able to reach the data directory; when the repository's
# parents cannot be traversed by it (a checkout under /root, say), the cluster moves to
# /var/tmp/aftersales-<hash of the repository path>-<port> and a symlink keeps the log where
# people look for it.
#
# Expects from the caller: ROOT (repository root, absolute), VAR (state directory, absolute),
# RUN_DIR, LOG_DIR, SECRETS_DIR, AS_PG_PORT, SERVICES, and the helpers say, die,
# gen_secret_file and write_private.
# Defines PG_* variables (see pg_locate) and the pg_* functions below.

PG_SUPERUSER=postgres
PG_DBNAME=aftersales
PG_SYSTEM_USER=aftersales

# pg_find_bin — the server binaries: $AS_PG_BIN, else PostgreSQL 15, else the newest installed.
pg_find_bin() {
    local d
    if [ -n "${AS_PG_BIN:-}" ]; then
        PG_BIN=$AS_PG_BIN
    elif [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        PG_BIN=/usr/lib/postgresql/15/bin
    else
        PG_BIN=""
        for d in /usr/lib/postgresql/*/bin; do
            [ -x "$d/pg_ctl" ] && PG_BIN=$d
        done
    fi
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/pg_ctl" ] ||
        die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin; set AS_PG_BIN). Run deploy/local/deps.sh."
    PSQL=$PG_BIN/psql
    [ -x "$PSQL" ] || PSQL=$(command -v psql) || die "psql not found"
}

# pg_fallback_base — where the cluster lives when the state directory is out of reach.
pg_fallback_base() {
    local h
    h=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    printf '/var/tmp/aftersales-%s-%s' "$h" "$AS_PG_PORT"
}

# pg_user_can_reach USER DIR — whether USER can traverse every directory down to DIR.
pg_user_can_reach() {
    runuser -u "$1" -- test -x "$2" 2>/dev/null
}

# pg_ensure_system_user — create the `aftersales` system user when missing (root only).
pg_ensure_system_user() {
    if ! id -u "$PG_SYSTEM_USER" >/dev/null 2>&1; then
        say "creating system user '$PG_SYSTEM_USER' to run PostgreSQL (it refuses to run as root)"
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_SYSTEM_USER" ||
            die "could not create system user '$PG_SYSTEM_USER'"
    fi
}

# pg_locate [create] — set PG_BASE, PG_DATA, PG_SOCK, PG_LOG and PG_USER (empty: run as
# ourselves). Without `create` it only finds an existing cluster (for down/status/psql); with
# it, it also decides where a new cluster goes.
pg_locate() {
    local mode=${1:-find} fb
    fb=$(pg_fallback_base)
    PG_USER=""
    if [ -f "$VAR/pg/data/PG_VERSION" ] || { [ ! -f "$fb/data/PG_VERSION" ] && [ "$mode" != create ]; }; then
        pg_set_paths "$VAR/pg" "$VAR/run/pg" "$LOG_DIR/postgres.log"
    elif [ -f "$fb/data/PG_VERSION" ]; then
        pg_set_paths "$fb" "$fb/run" "$fb/postgres.log"
    elif [ "$(id -u)" -eq 0 ]; then
        # A new cluster as root: does the system user reach the state directory?
        pg_ensure_system_user
        if pg_user_can_reach "$PG_SYSTEM_USER" "$VAR"; then
            pg_set_paths "$VAR/pg" "$VAR/run/pg" "$LOG_DIR/postgres.log"
        else
            say "note: user '$PG_SYSTEM_USER' cannot traverse the parents of $VAR;"
            say "      the PostgreSQL cluster goes to $fb instead (log linked from $LOG_DIR/postgres.log)"
            pg_set_paths "$fb" "$fb/run" "$fb/postgres.log"
        fi
    else
        pg_set_paths "$VAR/pg" "$VAR/run/pg" "$LOG_DIR/postgres.log"
    fi
    # As root, the server runs as the data directory's owner, or as the system user for a new
    # one. (A root-owned directory cannot be served: initdb made it, so that cannot happen.)
    if [ "$(id -u)" -eq 0 ]; then
        if [ -d "$PG_DATA" ] && [ "$(stat -c %u "$PG_DATA")" -ne 0 ]; then
            PG_USER=$(stat -c %U "$PG_DATA")
        elif [ "$mode" = create ]; then
            pg_ensure_system_user
            PG_USER=$PG_SYSTEM_USER
        elif id -u "$PG_SYSTEM_USER" >/dev/null 2>&1; then
            PG_USER=$PG_SYSTEM_USER
        fi
    fi
}

# pg_set_paths BASE SOCKDIR LOG — the cluster's paths. A Unix socket path is limited to 107
# bytes; in a deep checkout the socket directory moves to /tmp (clients use TCP anyway).
pg_set_paths() {
    PG_BASE=$1
    PG_DATA=$1/data
    PG_SOCK=$2
    PG_LOG=$3
    if [ $((${#PG_SOCK} + 18)) -gt 100 ]; then
        PG_SOCK=/tmp/aftersales-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)-$AS_PG_PORT
    fi
}

# pg_as_owner CMD... — run a server program as the cluster's user, from a directory it can read.
pg_as_owner() {
    if [ -n "$PG_USER" ] && [ "$PG_USER" != "$(id -un)" ]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# pg_own PATH... — give paths to the cluster's user (no-op when not root).
pg_own() {
    if [ -n "$PG_USER" ]; then
        chown "$PG_USER:" "$@"
    fi
}

# pg_running — 0 when the postmaster of our data directory is alive.
pg_running() {
    [ -f "$PG_DATA/PG_VERSION" ] || return 1
    pg_as_owner "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

# pg_clear_stale_pidfile — after a reboot (or in a container) the pid in postmaster.pid may now
# belong to an unrelated process; pg_ctl would then believe the server runs. Remove such a file.
pg_clear_stale_pidfile() {
    local pidfile=$PG_DATA/postmaster.pid pid comm
    [ -f "$pidfile" ] || return 0
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    if [ -d "/proc/$pid" ]; then
        comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
        [ "$comm" = postgres ] && return 0
        say "removing stale $pidfile (pid $pid is now '$comm')"
        rm -f "$pidfile"
    fi
    # A dead pid is left for PostgreSQL itself, which removes the file when it starts.
    return 0
}

# pg_running_port — the port the running postmaster listens on (line 4 of postmaster.pid).
pg_running_port() {
    sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

# pg_write_settings — our settings, in a file included by postgresql.conf; rewritten at every
# start so that a changed port or socket directory applies.
pg_write_settings() {
    local f=$PG_DATA/postgresql.aftersales.conf sock
    sock=${PG_SOCK//\'/\'\'}
    cat >"$f.tmp" <<EOF
# Written by deploy/local/stack.sh at every start; edits are lost. Dev-box settings.
listen_addresses = '127.0.0.1'
port = $AS_PG_PORT
unix_socket_directories = '$sock'
max_connections = 100
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
jit = off
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d %a: '
EOF
    mv "$f.tmp" "$f"
    pg_own "$f"
    chmod 600 "$f"
    if ! grep -q "^include_if_exists = 'postgresql.aftersales.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# The local stack's settings (deploy/local/pg.sh).\ninclude_if_exists = 'postgresql.aftersales.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
}

# pg_init — initdb a new cluster: scram everywhere, UTF-8, generated superuser password.
pg_init() {
    local pwtmp
    say "initialising PostgreSQL cluster in $(rel "$PG_DATA")"
    gen_secret_file "$SECRETS_DIR/pg_super.pw" 24
    mkdir -p "$PG_BASE"
    pg_own "$PG_BASE"
    chmod 700 "$PG_BASE"
    # initdb runs as the cluster's user, who cannot read our secrets directory: hand it a copy
    # in its own directory, removed right after.
    pwtmp=$PG_BASE/.initdb.pw
    (umask 077 && cat "$SECRETS_DIR/pg_super.pw" >"$pwtmp")
    pg_own "$pwtmp"
    if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" --username="$PG_SUPERUSER" --pwfile="$pwtmp" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1; then
        rm -f "$pwtmp"
        tail -n 20 "$LOG_DIR/initdb.log" >&2
        die "initdb failed (full output: $LOG_DIR/initdb.log)"
    fi
    rm -f "$pwtmp"
}

# pg_start — reuse a running cluster, start a stopped one, create a missing one.
pg_start() {
    pg_find_bin
    pg_locate create
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        [ ! -e "$PG_DATA" ] || [ -z "$(ls -A "$PG_DATA" 2>/dev/null)" ] ||
            die "$PG_DATA exists but is not a PostgreSQL data directory; move it away"
        pg_init
    fi
    [ -s "$SECRETS_DIR/pg_super.pw" ] ||
        die "the cluster in $PG_DATA exists but $SECRETS_DIR/pg_super.pw is gone; 'stack.sh clean' starts afresh"

    mkdir -p "$PG_SOCK"
    chmod 750 "$PG_SOCK"
    pg_own "$PG_SOCK"
    pg_clear_stale_pidfile
    pg_write_settings

    if pg_running; then
        if [ "$(pg_running_port)" = "$AS_PG_PORT" ]; then
            say "PostgreSQL already running on 127.0.0.1:$AS_PG_PORT ($(rel "$PG_DATA"))"
            return 0
        fi
        say "PostgreSQL runs on port $(pg_running_port), restarting on $AS_PG_PORT"
        pg_stop
    fi

    # The log belongs to this run; the previous one is kept as .1. In the fallback layout the
    # log lives beside the cluster and the state directory holds a symlink to it.
    if [ -f "$PG_LOG" ]; then mv -f "$PG_LOG" "$PG_LOG.1"; fi
    : >"$PG_LOG"
    pg_own "$PG_LOG"
    if [ "$PG_LOG" != "$LOG_DIR/postgres.log" ]; then
        ln -sfn "$PG_LOG" "$LOG_DIR/postgres.log"
    fi

    say "starting PostgreSQL on 127.0.0.1:$AS_PG_PORT (log $(rel "$LOG_DIR")/postgres.log)"
    if ! pg_as_owner "$PG_BIN/pg_ctl" start -w -t 60 -D "$PG_DATA" -l "$PG_LOG" >/dev/null; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "PostgreSQL did not start (log: $PG_LOG)"
    fi
}

# pg_stop — fast shutdown (rolls back open transactions, checkpoints); fine when not running.
pg_stop() {
    [ -n "${PG_BIN:-}" ] || pg_find_bin
    [ -n "${PG_DATA:-}" ] || pg_locate
    pg_running || return 0
    say "stopping PostgreSQL ($(rel "$PG_DATA"))"
    if ! pg_as_owner "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null; then
        say "fast shutdown timed out; using immediate"
        pg_as_owner "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null || true
    fi
}

# pg_psql_super ARGS... — psql as the cluster superuser over TCP (passwords via PGPASSFILE).
pg_psql_super() {
    PGPASSFILE=$SECRETS_DIR/pgpass "$PSQL" -X -q -v ON_ERROR_STOP=1 \
        "host=127.0.0.1 port=$AS_PG_PORT user=$PG_SUPERUSER dbname=${PG_CONNECT_DB:-postgres} application_name=stack.sh" "$@"
}

# pg_write_pgpass — a libpq password file for the superuser and every service role, so that
# psql needs no password on the command line or in the environment.
pg_write_pgpass() {
    local s content
    content="127.0.0.1:$AS_PG_PORT:*:$PG_SUPERUSER:$(cat "$SECRETS_DIR/pg_super.pw")"$'\n'
    for s in "${SERVICES[@]}"; do
        content+="127.0.0.1:$AS_PG_PORT:$PG_DBNAME:as_$s:$(cat "$SECRETS_DIR/$s.pw")"$'\n'
    done
    write_private "$SECRETS_DIR/pgpass" "$content"
}

# pg_bootstrap — the database, one role and one schema per service, and the isolation between
# them. Idempotent: every statement runs only when the catalog differs from what it would make.
pg_bootstrap() {
    local s sql fresh
    sql=""
    for s in "${SERVICES[@]}"; do
        gen_secret_file "$SECRETS_DIR/$s.pw" 24
        fresh=$SECRET_FRESH
        sql+="\\set role as_$s"$'\n'"\\set pw '$(cat "$SECRETS_DIR/$s.pw")'"$'\n'
        sql+="SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'pw')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec"$'\n'
        # A password generated now for a role that already exists (secrets lost, cluster kept).
        if [ "$fresh" -eq 1 ]; then
            sql+="SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'pw') \\gexec"$'\n'
        fi
    done
    pg_write_pgpass

    sql+="SELECT 'CREATE DATABASE $PG_DBNAME' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DBNAME') \\gexec"$'\n'
    sql+="\\connect $PG_DBNAME"$'\n'
    # Nobody but the service roles may connect; nobody may use schema public. (Each statement
    # runs only when the privilege is still there, so that a second run rewrites no row.)
    sql+="SELECT 'REVOKE ALL ON DATABASE $PG_DBNAME FROM PUBLIC'
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE d.datname = '$PG_DBNAME' AND a.grantee = 0 LIMIT 1 \\gexec"$'\n'
    sql+="SELECT 'REVOKE ALL ON SCHEMA public FROM PUBLIC'
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'public' AND a.grantee = 0 LIMIT 1 \\gexec"$'\n'
    for s in "${SERVICES[@]}"; do
        sql+="\\set role as_$s"$'\n'"\\set schema $s"$'\n'
        sql+="SELECT format('GRANT CONNECT ON DATABASE $PG_DBNAME TO %I', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database d, aclexplode(d.datacl) a
                     WHERE d.datname = '$PG_DBNAME' AND a.grantee = :'role'::regrole
                       AND a.privilege_type = 'CONNECT') \\gexec"$'\n'
        sql+="SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', :'schema', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = :'schema') \\gexec"$'\n'
        sql+="SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role')
  FROM pg_namespace WHERE nspname = :'schema' AND nspowner <> :'role'::regrole \\gexec"$'\n'
        sql+="SELECT format('ALTER ROLE %I SET search_path = %I', :'role', :'schema')
  WHERE NOT EXISTS (SELECT FROM pg_db_role_setting d
                     WHERE d.setrole = :'role'::regrole AND d.setdatabase = 0
                       AND d.setconfig @> ARRAY['search_path=' || :'schema']) \\gexec"$'\n'
        # No JIT for the services' roles: their statements are short, and compiling a report's
        # plan (the scorecard's costs pass jit_above_cost) took seconds of a loaded machine's CPU
        # for a query that runs in 0.1 s without it.
        sql+="SELECT format('ALTER ROLE %I SET jit = off', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_db_role_setting d
                     WHERE d.setrole = :'role'::regrole AND d.setdatabase = 0
                       AND d.setconfig @> ARRAY['jit=off']) \\gexec"$'\n'
    done
    if ! printf '%s' "$sql" | pg_psql_super >/dev/null; then
        die "database bootstrap failed (see the psql error above)"
    fi
}
