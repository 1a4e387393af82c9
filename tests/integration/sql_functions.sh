#!/usr/bin/env bash
# sql_functions.sh — every SQL function checked, the rule-heavy families unit-tested.
#
# A scratch database of the test cluster gets every service's schema from this tree (the real
# binaries: as-<svc> --migrate-only), so the stack's own data is never touched. Then:
# 1. plpgsql_check (Debian postgresql-15-plpgsql-check) over every PL/pgSQL function of every
#    schema - a trigger function in the context of its trigger (transition tables included):
#    zero errors; warnings are listed as notes, not failed.
# 2. Every LANGUAGE sql function is created again from its own text with check_function_bodies
#    on (the family files are applied with it off): zero errors.
# 3. The SQL unit tests in tests/sql/<schema>_*.sql (pgTAP, Debian postgresql-15-pgtap), each
#    run with search_path = <schema>, public inside a transaction that is rolled back; their
#    TAP lines become this script's.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)

SERVICES=(intake parts people settlement surveys warranty)
DB=sqlfunctions
TMP=$AS_VAR/sql_functions
rm -rf "$TMP"
mkdir -p "$TMP"
export PGPASSFILE=$AS_VAR/run/secrets/pgpass
sq() { psql "host=127.0.0.1 port=$AS_PG_PORT dbname=$1 user=postgres" -XAtq -v ON_ERROR_STOP=1 "${@:2}"; }

ready=1
{
    sq postgres -c "DROP DATABASE IF EXISTS $DB" && sq postgres -c "CREATE DATABASE $DB" &&
        sq "$DB" -c "CREATE EXTENSION plpgsql_check; CREATE EXTENSION pgtap"
} >"$TMP/setup.log" 2>&1 || ready=0
for svc in "${SERVICES[@]}"; do
    cat >"$TMP/$svc.conf" <<EOF
[$svc]
db = host=127.0.0.1 port=$AS_PG_PORT dbname=$DB user=postgres application_name=sql_functions
EOF
    { sq "$DB" -c "CREATE SCHEMA $svc" && (cd "$ROOT" && "$AS_BIN/as-$svc" --config "$TMP/$svc.conf" --migrate-only); } \
        >>"$TMP/setup.log" 2>&1 || ready=0
done
if [ "$ready" = 1 ]; then
    t_ok "a scratch database with every service's schema, plpgsql_check and pgTAP"
else
    t_fail "a scratch database with every service's schema, plpgsql_check and pgTAP" "$(tail -n 20 "$TMP/setup.log")"
    t_done
    exit
fi

# --- 1. plpgsql_check ------------------------------------------------------------------------
for svc in "${SERVICES[@]}"; do
    out=$(sq "$DB" -F ' | ' -c "SET search_path = $svc, public" -c "
        SELECT r.level, p.oid::regprocedure::text, 'line ' || coalesce(r.lineno::text, '?'), r.message
          FROM pg_proc p
          JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
          LEFT JOIN LATERAL (SELECT t.tgrelid, t.tgnewtable, t.tgoldtable FROM pg_trigger t
                              WHERE t.tgfoid = p.oid
                              ORDER BY t.tgnewtable IS NULL, t.tgoldtable IS NULL LIMIT 1) tg ON true
         CROSS JOIN LATERAL plpgsql_check_function_tb(p.oid, coalesce(tg.tgrelid, 0),
                                                       oldtable => tg.tgoldtable,
                                                       newtable => tg.tgnewtable) r
         WHERE p.pronamespace = '$svc'::regnamespace
           AND (p.prorettype <> 'trigger'::regtype OR tg.tgrelid IS NOT NULL)
         ORDER BY 1, 2" 2>&1)
    rc=$?
    n=$(sq "$DB" -c "SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                     WHERE l.lanname = 'plpgsql' AND p.pronamespace = '$svc'::regnamespace")
    errors=$(grep -E '^error' <<<"$out")
    if [ "$rc" = 0 ] && [ -z "$errors" ] && [ "$n" -gt 5 ]; then
        t_ok "$svc: plpgsql_check finds no error in $n PL/pgSQL functions"
    else
        t_fail "$svc: plpgsql_check finds no error in its PL/pgSQL functions" "$n functions, rc $rc"$'\n'"${errors:-$out}"
    fi
    warnings=$(grep -cE '^(warning|performance)' <<<"$out")
    [ "$warnings" -gt 0 ] && t_note "$svc: $warnings plpgsql_check warnings (the 'warning extra' ones not listed):"$'\n'"$(grep -E '^warning [^e]' <<<"$out")"
done

# --- 2. SQL-language functions, created again with check_function_bodies on ------------------
for svc in "${SERVICES[@]}"; do
    out=$(sq "$DB" -c "SET search_path = $svc, public" -c "BEGIN" -c "SET LOCAL check_function_bodies = on" -c "
        DO \$\$
        DECLARE f record; bad text := '';
        BEGIN
            FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                      WHERE l.lanname = 'sql' AND p.pronamespace = '$svc'::regnamespace LOOP
                BEGIN
                    EXECUTE pg_get_functiondef(f.oid);
                EXCEPTION WHEN OTHERS THEN
                    bad := bad || f.oid::regprocedure::text || ': ' || SQLERRM || E'\n';
                END;
            END LOOP;
            IF bad <> '' THEN RAISE EXCEPTION '%', bad; END IF;
        END \$\$" -c "ROLLBACK" 2>&1)
    if [ -z "$out" ]; then
        t_ok "$svc: every SQL-language function's body checks"
    else
        t_fail "$svc: every SQL-language function's body checks" "$out"
    fi
done

# --- 3. the SQL unit tests ---------------------------------------------------------------------
for f in "$ROOT"/tests/sql/*.sql; do
    name=$(basename "$f" .sql)
    svc=${name%%_*}
    out=$(sq "$DB" -c "SET search_path = $svc, public" -f "$f" 2>&1)
    rc=$?
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out")
    seen=0
    while IFS= read -r line; do
        case $line in
        "ok "*)
            seen=$((seen + 1))
            t_ok "$name: ${line#ok * - }"
            ;;
        "not ok "*)
            seen=$((seen + 1))
            t_fail "$name: ${line#not ok * - }" "see below"
            ;;
        "# "*) t_note "${line#\# }" ;;
        esac
    done <<<"$out"
    if [ "$rc" = 0 ] && [ -n "$planned" ] && [ "$seen" = "$planned" ]; then
        t_ok "$name: ran its $planned tests to the end"
    else
        t_fail "$name: ran its tests to the end" "rc $rc, planned '$planned', seen $seen"$'\n'"$(tail -n 15 <<<"$out")"
    fi
done

sq postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
t_done
