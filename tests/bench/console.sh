#!/usr/bin/env bash
# tests/bench/console.sh — `make bench-console`: the console's pages with 100,000 tickets
# (issue 18's bar: "a page answers in under a second with 100,000 tickets in the database").
#
# Brings up its own stack (state directory, cluster and ports below; deleted at start), opens a
# few tickets through the API so that the warranty service decides them (the templates), then
# loads AS_CB_TICKETS tickets with SQL in one transaction (generate_series, copied from the
# templates in intake's own shape: customers with their phones, devices, tickets with their
# decision, promise, timeline and repair record; a year of history, the last days' tickets
# still open at the four centres, a customer coming back about every third ticket, key and VIP
# customers among them). The load runs as the superuser with triggers off (session_replication_role = replica)
# so that it announces nothing to the other services: the rows are written as the triggers
# would write them. Then ANALYZE, and every page the console asks for is read AS_CB_READS times
# through the HTTP API, one keep-alive connection per page (as a browser does), and its p50 /
# p99 / max in ms printed with the rows of the first answer. Nothing is asserted: these are
# figures on whatever machine runs it (docs/benchmark.md, "The console with 100,000 tickets").
# Results also go to $BENCH_OUT/console.txt. The stack is brought down at exit.
#
# Settings (environment): AS_BUILD (build), AS_BIN ($AS_BUILD/bin), BENCH_OUT (build/bench),
#   AS_CB_VAR (var/bench-console), AS_CB_PG_PORT (55593), AS_CB_PORT_BASE (3500),
#   AS_CB_HTTP_PORT (8598), AS_CB_TICKETS (100000), AS_CB_READS (40),
#   AS_CB_KEEP (1: leave the stack up at the end, to poke at it or to open the console),
#   AS_CB_REUSE (1: measure the stack a run with AS_CB_KEEP=1 left up, without loading again).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
AS_BIN=${AS_BIN:-$AS_BUILD/bin}
export AS_BUILD AS_BIN
BENCH_OUT=${BENCH_OUT:-build/bench}
V=${AS_CB_VAR:-var/bench-console}
PG_PORT=${AS_CB_PG_PORT:-55593}
PORT_BASE=${AS_CB_PORT_BASE:-3500}
HTTP_PORT=${AS_CB_HTTP_PORT:-8598}
TICKETS=${AS_CB_TICKETS:-100000}
READS=${AS_CB_READS:-40}

case $(realpath -m -- "$V") in
/ | "$ROOT" | "$ROOT/var") echo "bench-console: AS_CB_VAR=$V would delete more than a bench stack" >&2 && exit 2 ;;
esac
[[ $TICKETS =~ ^[0-9]+$ ]] && [ "$TICKETS" -ge 1000 ] || {
    echo "bench-console: AS_CB_TICKETS must be a whole number, at least 1000" >&2
    exit 2
}
[[ $READS =~ ^[0-9]+$ ]] && [ "$READS" -ge 1 ] && [ "$READS" -le 1000 ] || {
    echo "bench-console: AS_CB_READS must be 1..1000" >&2
    exit 2
}

stack() {
    AS_VAR=$V AS_PG_PORT=$PG_PORT AS_PORT_BASE=$PORT_BASE AS_HTTP_PORT=$HTTP_PORT AS_BIN=$AS_BIN \
        AS_STACK_GATEWAY_CONF="$(cat deploy/local/load-limits.conf 2>/dev/null)" \
        deploy/local/stack.sh "$@"
}
finish() {
    local rc=$?
    trap - EXIT
    [ "${AS_CB_KEEP:-0}" = 1 ] || stack down >/dev/null 2>&1
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

say() { printf '# bench-console: %s\n' "$*"; }
REUSE=${AS_CB_REUSE:-0}
if [ "$REUSE" != 1 ]; then
    stack clean >/dev/null 2>&1 || true
    stack up >/dev/null || {
        echo "bench-console: the stack did not come up (logs in $V/log)" >&2
        exit 1
    }
fi
# shellcheck source=/dev/null
. "$V/run/env"
. tests/lib.sh
mkdir -p "$BENCH_OUT" "$V/bench"
D=$V/bench
OUT=$BENCH_OUT/console.txt
sql() { stack psql super -XAtq -v ON_ERROR_STOP=1 "$@"; }

if [ "$REUSE" != 1 ]; then
# ---- templates: tickets the warranty service decided --------------------------------------
# Three purchase ages (a 7-day refund, a repair in warranty, one out of warranty) at each of the
# four centres, phones and appliances.
n=0
for center in SH01 SH02 GZ01 GZ02; do
    for age in 5 40 500; do
        for cat in phone_host general; do
            imei=$(new_imei)
            http POST /v1/tickets "$AS_TOKEN_ADMIN" "$(jq -nc --arg c "$center" --arg cat "$cat" --arg i "$imei" \
                --arg inv "$(days_ago "$age")" --arg ph "1370000$(printf '%04d' $((n++)))" '{
              center: $c, customer: {name: "Template", phone: $ph},
              device: (if $cat == "general" then {category: $cat, general_item: "color_tv", brand: "Huaxin", model: "TV-55", serial: ("S" + $i)}
                       else {category: $cat, brand: "Huaxin", model: "HX-10", imei: $i, imei_label: $i} end),
              purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
              fault: {code: "NO_POWER", listed: true, description: "does not switch on"}, request: "repair"}')"
            [ "$HTTP_STATUS" = 201 ] || {
                echo "bench-console: a template ticket was refused: $HTTP_STATUS $HTTP_BODY" >&2
                exit 1
            }
        done
    done
done
for _ in $(seq 120); do
    [ "$(sql -c "SELECT count(*) FROM intake.tickets WHERE decision IS NULL")" = 0 ] && break
    sleep 0.5
done
say "$(sql -c "SELECT count(*) FROM intake.tickets WHERE decision IS NOT NULL") template tickets decided"

# ---- 100,000 tickets in intake's shape -------------------------------------------------------
t0=$(date +%s.%N)
sql -v n="$TICKETS" >"$D/load.txt" <<'SQL' || { echo "bench-console: the load failed: $(tail -n 5 "$D/load.txt")" >&2; exit 1; }
SET session_replication_role = replica;
SET search_path = intake, public;
BEGIN;
CREATE TEMP TABLE tpl ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY id) - 1 AS k, t.* FROM tickets t WHERE decision IS NOT NULL;
CREATE TEMP TABLE ctr ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY code) - 1 AS k, code, region FROM centers WHERE code IN ('SH01', 'SH02', 'GZ01', 'GZ02');
-- customers: about 7 for every 10 tickets; every 20th a key customer, every 50th a VIP
CREATE TEMP TABLE cus ON COMMIT DROP AS
    SELECT g AS k, 'CU' || lpad(nextval('customer_no')::text, 8, '0') AS id,
           '139' || lpad(g::text, 8, '0') AS phone,
           (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴'])[1 + g % 10] || '客户' || g AS name,
           CASE WHEN g % 50 = 0 THEN 'vip' WHEN g % 20 = 0 THEN 'key' ELSE 'regular' END AS tier
    FROM generate_series(1, (:n * 7 / 10)::int) g;
INSERT INTO customers(id, name, phones, tier, account_owner, center, created_at, updated_at)
    SELECT c.id, c.name, ARRAY[c.phone], c.tier, CASE WHEN c.tier <> 'regular' THEN 'owner.' || ctr.code END,
           ctr.code, now() - interval '400 days', now() - interval '400 days'
    FROM cus c JOIN ctr ON ctr.k = c.k % 4;
INSERT INTO customer_phones(phone, customer_id) SELECT phone, id FROM cus;
-- tickets: oldest first (ids rise with opened_at), spread over a year; the last 3 days open
CREATE TEMP TABLE src ON COMMIT DROP AS
    SELECT g, now() - (g::double precision / :n) * interval '365 days' AS opened_at,
           1 + (g::bigint * 7919) % ((:n * 7 / 10)::int) AS cus_k,
           '86' || lpad(g::text, 13, '0') AS imei, g % 4 AS ctr_k, (g / 7) % (SELECT count(*) FROM tpl) AS tpl_k
    FROM generate_series(1, :n) g;
INSERT INTO tickets(id, center, region, state, customer_name, customer_phone, category, device, purchase,
                    fault, flags, request, claim_date, extra, device_key, repeat_repair, warnings,
                    decision, manufacturer, work, opened_at, updated_at, closed_at, customer_id,
                    promise_h, promised_at, promise_met_at, promise_level, promise_next_check_at)
    SELECT 'T' || lpad(nextval('ticket_no')::text, 8, '0'), ctr.code, ctr.region, st.state, c.name, c.phone,
           t.category,
           CASE WHEN t.device ? 'imei' THEN t.device || jsonb_build_object('imei', s.imei, 'imei_label', s.imei)
                ELSE t.device || jsonb_build_object('serial', 'S' || s.imei) END,
           t.purchase || jsonb_build_object('invoice_date', ((s.opened_at AT TIME ZONE 'Asia/Shanghai')::date
                                                             - ((t.claim_date - (t.purchase->>'invoice_date')::date)))::text),
           t.fault, t.flags, t.request, (s.opened_at AT TIME ZONE 'Asia/Shanghai')::date, t.extra,
           CASE WHEN t.device ? 'imei' THEN s.imei ELSE 'Huaxin/S' || s.imei END, false, t.warnings,
           t.decision, t.manufacturer, '{}', s.opened_at, s.opened_at + CASE WHEN st.open THEN interval '1 hour' ELSE interval '2 days' END,
           CASE WHEN st.open THEN NULL ELSE s.opened_at + interval '2 days' END, c.id,
           72, s.opened_at + interval '72 hours',
           CASE WHEN st.open THEN NULL ELSE s.opened_at + interval '2 days' END, 'desk',
           CASE WHEN st.open THEN s.opened_at + interval '54 hours' END
    FROM src s
    JOIN ctr ON ctr.k = s.ctr_k
    JOIN tpl t ON t.k = s.tpl_k
    JOIN cus c ON c.k = s.cus_k
    CROSS JOIN LATERAL (SELECT s.opened_at > now() - interval '3 days' AS open) o
    CROSS JOIN LATERAL (SELECT o.open,
        CASE WHEN o.open THEN (ARRAY['received','adjudicated','estimate_pending','in_repair','awaiting_parts','ready'])[1 + (s.g / 4) % 6]
             WHEN s.g % 50 = 0 THEN 'cancelled' WHEN s.g % 40 = 0 THEN 'refunded' WHEN s.g % 45 = 0 THEN 'exchanged'
             ELSE 'closed' END AS state) st
    ORDER BY s.g DESC;
INSERT INTO devices(device_key, imei, serial, category, brand, model, purchase_date, customer_id, first_seen_at, updated_at)
    SELECT device_key, device->>'imei', device->>'serial', category, device->>'brand', device->>'model',
           (purchase->>'invoice_date')::date, customer_id, opened_at, opened_at
    FROM tickets WHERE customer_name NOT LIKE 'Template%' AND device_key IS NOT NULL
    ON CONFLICT (device_key) DO NOTHING;
INSERT INTO ticket_timeline(ticket_id, at, from_state, to_state, event, actor)
    SELECT id, opened_at, NULL, 'received', 'opened', 'desk.' || lower(center) FROM tickets WHERE customer_name <> 'Template';
INSERT INTO ticket_timeline(ticket_id, at, from_state, to_state, event, actor, note)
    SELECT id, opened_at + interval '1 second', 'received', 'adjudicated', 'warranty_decided', 'warranty', decision->>'status'
    FROM tickets WHERE customer_name <> 'Template' AND state <> 'received';
-- the repairs done (what the scorecard and the device histories read)
INSERT INTO device_repairs(ticket_id, device_key, dropped_off, returned, hours, problem, listed)
    SELECT id, device_key, (opened_at AT TIME ZONE 'Asia/Shanghai')::date, (closed_at AT TIME ZONE 'Asia/Shanghai')::date,
           48, fault->>'code', coalesce((fault->>'listed')::boolean, false)
    FROM tickets WHERE state = 'closed' AND device_key IS NOT NULL AND customer_name <> 'Template';
COMMIT;
ANALYZE;
SQL
t1=$(date +%s.%N)
total=$(sql -c "SELECT count(*) FROM intake.tickets")
say "$total tickets in intake ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s to load and analyze); $(sql -c "SELECT count(*) FROM intake.customers") customers"
fi
total=$(sql -c "SELECT count(*) FROM intake.tickets")

# ---- the pages -------------------------------------------------------------------------------
today=$(TZ=Asia/Shanghai date +%F)
month=$(days_ago 29)
# Search values that exist (SH01's customers and devices; the desk is SH01) and a deep cursor.
mapfile -t PHONES < <(sql -c "SELECT customer_phone FROM intake.tickets WHERE center = 'SH01' AND customer_name <> 'Template' ORDER BY md5(id) LIMIT $READS")
mapfile -t IMEIS < <(sql -c "SELECT device->>'imei' FROM intake.tickets WHERE center = 'SH01' AND device ? 'imei' AND customer_name <> 'Template' ORDER BY md5(id) LIMIT $READS")
mapfile -t SERIALS < <(sql -c "SELECT device->>'serial' FROM intake.tickets WHERE center = 'SH01' AND device ? 'serial' AND customer_name <> 'Template' ORDER BY md5(id) LIMIT $READS")
mapfile -t IDS < <(sql -c "SELECT id FROM intake.tickets WHERE center = 'SH01' ORDER BY md5(id) LIMIT $READS")
deep=$(sql -c "SELECT id FROM intake.tickets WHERE center = 'SH01' ORDER BY opened_at DESC, id DESC OFFSET $((TICKETS / 8)) LIMIT 1")

# page NAME TOKEN PATH... — READS requests over one connection (PATH repeated when only one is
# given), "name p50 p99 max rows" in ms; rows counts the first answer's list.
printf '%-44s %8s %8s %8s %6s %s\n' page p50 p99 max rows statuses | tee "$OUT"
# Before each page, wait until intake's connections are idle: a slow page's queries that the
# gateway gave up on (504) still run in the database, and must not count against the next page.
idle() {
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'as_%' AND state = 'active'")" = 0 ] && return
        sleep 0.5
    done
}
page() {
    local name=$1 tok=$2 first
    shift 2
    idle
    local -a paths=("$@") args=()
    local i
    if [ ${#paths[@]} -eq 0 ] || [ -z "${paths[0]}" ]; then
        printf '%-44s %s\n' "$name" "(nothing to search for in this data)" | tee -a "$OUT"
        return
    fi
    for ((i = 0; i < READS; i++)); do
        args+=(-o /dev/null "$AS_GATEWAY_URL${paths[i % ${#paths[@]}]}")
    done
    first=$(curl -s --max-time 60 -H "Authorization: Bearer $tok" "$AS_GATEWAY_URL${paths[0]}" |
        jq -r '[.tickets, .customers, .rows, .orders, .callbacks, .calls, .by_fault_code] | map(select(. != null)) | (.[0] // []) | length' 2>/dev/null)
    curl -s --max-time 120 -H "Authorization: Bearer $tok" -w '%{http_code} %{time_total}\n' "${args[@]}" >"$D/t.txt"
    awk '{print $2 * 1000}' "$D/t.txt" | sort -n | awk -v name="$name" -v rows="${first:-?}" \
        -v codes="$(awk '{print $1}' "$D/t.txt" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')" '{a[NR] = $1} END {
        i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
        printf "%-44s %8.1f %8.1f %8.1f %6s %s\n", name, a[int((NR + 1) / 2)], a[i], a[NR], rows, codes}' | tee -a "$OUT"
}
C=$AS_TOKEN_CENTER
R=$AS_TOKEN_REGION
A=$AS_TOKEN_ADMIN
phone_paths=() imei_paths=() serial_paths=() id_paths=()
for p in "${PHONES[@]}"; do phone_paths+=("/v1/tickets?order=priority&phone=$p&limit=20"); done
for p in "${IMEIS[@]}"; do imei_paths+=("/v1/tickets?order=priority&imei=$p&limit=20"); done
for p in "${SERIALS[@]}"; do serial_paths+=("/v1/tickets?order=priority&serial=$p&limit=20"); done
for p in "${IDS[@]}"; do id_paths+=("/v1/tickets/$p"); done

page "queue: today, key/VIP first (desk)" "$C" "/v1/tickets?order=priority&from=$today&limit=20"
page "queue: today, a state (desk)" "$C" "/v1/tickets?order=priority&from=$today&state=in_repair&limit=20"
page "queue: all dates, key/VIP first (desk)" "$C" "/v1/tickets?order=priority&limit=20"
page "queue: today (region manager)" "$R" "/v1/tickets?order=priority&from=$today&limit=20"
page "tickets: newest first (desk)" "$C" "/v1/tickets?limit=20"
page "tickets: newest first (admin)" "$A" "/v1/tickets?limit=20"
page "tickets: a page 1/8 deep (desk, cursor)" "$C" "/v1/tickets?limit=20&after=$deep"
page "search: phone (desk)" "$C" "${phone_paths[@]}"
page "search: IMEI (desk)" "$C" "${imei_paths[@]}"
page "search: serial (desk)" "$C" "${serial_paths[@]}"
page "ticket page (desk)" "$C" "${id_paths[@]}"
page "workshop: in repair, 50 (desk)" "$C" "/v1/tickets?state=in_repair&order=priority&limit=50"
page "customers: phone prefix (desk)" "$C" "/v1/customers?phone=1390001&limit=20"
page "customers: name prefix (desk)" "$C" "/v1/customers?name=%E7%8E%8B%E5%AE%A2%E6%88%B71&limit=20"
page "promises at risk (desk)" "$C" "/v1/promises?status=at_risk&limit=100"
page "promises report, 30 days (region)" "$R" "/v1/reports/promises?from=$month&to=$today"
page "dashboard: scorecard, 30 days (region)" "$R" "/v1/reports/scorecard?from=$month&to=$today"
page "dashboard: complaints by centre (region)" "$R" "/v1/reports/complaints?group=center"
page "dashboard: satisfaction by centre (region)" "$R" "/v1/reports/satisfaction?group=center"
page "dashboard: cost per repair, 30 days (region)" "$R" "/v1/settlement/costs?group=center&from=$month"
page "quality report, 30 days (region)" "$R" "/v1/reports/quality?from=$month&to=$today"
page "call-back list (desk)" "$C" "/v1/surveys/due?date=$today&limit=200"
say "$total tickets; $READS reads a page over one connection; figures in $OUT"
