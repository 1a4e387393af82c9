#!/usr/bin/env bash
# db_isolation.sh — each service's database role reaches its own schema and nothing else:
# as_intake works in schema intake, cannot read warranty.*, cannot create in public or make
# schemas; and no service role has any privilege on another service's schema.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

SERVICES=(intake warranty parts settlement surveys people notify)
SECRETS=${AS_VAR:?AS_VAR is not set (source \$AS_VAR/run/env)}/run/secrets

# q SERVICE SQL — run SQL as as_SERVICE with its generated password; prints rows, then the
# error text when it fails (exit status of psql kept).
q() {
    local pw
    pw=$(cat "$SECRETS/$1.pw")
    PGPASSWORD=$pw psql -X -q -At -v ON_ERROR_STOP=1 \
        "host=127.0.0.1 port=${AS_PG_PORT:?} dbname=aftersales user=as_$1 application_name=db_isolation" \
        -c "$2" 2>&1
}

# t_denied NAME SERVICE SQL — SQL must fail with "permission denied".
t_denied() {
    local out
    if out=$(q "$2" "$3"); then
        t_fail "$1" "it succeeded: $out"
    elif [[ $out == *"permission denied"* ]]; then
        t_ok "$1"
    else
        t_fail "$1" "failed, but not with 'permission denied': $out"
    fi
}

# Its own schema: the role logs in, search_path is its schema, it can create and drop there.
out=$(q intake "SHOW search_path") || true
t_eq "as_intake logs in with its generated password, search_path is intake" intake "$out"
out=$(q intake "BEGIN; CREATE TABLE isolation_probe (x int); INSERT INTO isolation_probe VALUES (1);
                SELECT count(*) FROM intake.isolation_probe; ROLLBACK;") || true
t_eq "as_intake creates and uses a table in schema intake" 1 "$out"
out=$(q intake "SELECT CASE WHEN to_regclass('intake.schema_migrations') IS NULL THEN 'absent'
                ELSE (SELECT count(*) FROM intake.schema_migrations)::text END") || true
t_match "as_intake reads its own intake.schema_migrations" '^(absent|[0-9]+)$' "$out"

# Another service's schema, public, and the database itself.
t_denied "as_intake cannot select from warranty.schema_migrations" intake \
    "SELECT count(*) FROM warranty.schema_migrations"
t_denied "as_intake cannot create a table in warranty" intake "CREATE TABLE warranty.probe (x int)"
t_denied "as_intake cannot create a table in public" intake "CREATE TABLE public.probe (x int)"
t_denied "as_intake cannot create a schema" intake "CREATE SCHEMA probe"
t_denied "as_warranty cannot select from intake.schema_migrations" warranty \
    "SELECT count(*) FROM intake.schema_migrations"

# Every pair: no USAGE or CREATE on any schema but one's own.
for s in "${SERVICES[@]}"; do
    others=""
    for o in "${SERVICES[@]}" public; do
        [ "$o" = "$s" ] || others+="${others:+,}'$o'"
    done
    out=$(q "$s" "SELECT coalesce(string_agg(nspname, ','), 'none') FROM pg_namespace
                   WHERE nspname IN ($others)
                     AND (has_schema_privilege(oid, 'USAGE') OR has_schema_privilege(oid, 'CREATE'))") || true
    t_eq "as_$s has no privilege on the other services' schemas or public" none "$out"
done

t_done
