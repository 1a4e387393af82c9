#!/usr/bin/env bash
# Operators' metrics: every service's process figures reach the gateway's /metrics (the gateway
# asks each service with as.StatsRequest), each series labelled with its service and present
# from the start, zeros included; only the admin may read them.
#
# Checked for every service of deploy/services.conf: resident memory, CPU seconds, open
# descriptors, uptime, event loop lag, commands by type, events published and applied, outbox
# backlog and the database round trips are there with sane values; one name has one HELP/TYPE;
# a ticket opened between two scrapes moves intake's OpenTicket count, its published events and
# its database round trips; no token gets 401 and a desk's token 403.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

mapfile -t SERVICES < <(awk '!/^#/ && $2 == "service" {print $1}' "${AS_ROOT:-.}/deploy/services.conf")
t_check "deploy/services.conf lists the services" [ ${#SERVICES[@]} -ge 7 ]

http GET /metrics
t_status "/metrics without a token gets 401" 401
http GET /metrics "$AS_TOKEN_CENTER"
t_status "/metrics with a desk's token gets 403" 403

http GET /metrics "$AS_TOKEN_ADMIN"
t_status "/metrics with the admin's token answers" 200
M1=$HTTP_BODY

# val TEXT NAME SERVICE [LABELS] — the value of NAME{service="SERVICE"[,LABELS]}, or empty.
val() {
    local sel="service=\"$3\"${4:+,$4}"
    printf '%s\n' "$1" | awk -v want="$2{$sel}" '$1 == want {print $2; exit}'
}
# check NAME EXPR — EXPR (an awk condition on v) holds for NAME of every service.
check() {
    local name=$1 cond=$2 labels=${3:-} bad="" s v
    for s in "${SERVICES[@]}"; do
        v=$(val "$M1" "$name" "$s" "$labels")
        if [ -z "$v" ] || ! awk -v v="$v" "BEGIN {exit !($cond)}"; then
            bad+=" $s=${v:-missing}"
        fi
    done
    if [ -z "$bad" ]; then
        t_ok "every service reports $name${labels:+{$labels\}} ($cond)"
    else
        t_fail "every service reports $name${labels:+{$labels\}} ($cond)" "$bad"
    fi
}
check aftersales_service_resident_memory_bytes 'v > 1048576 && v < 4294967296'
check aftersales_service_cpu_seconds_total 'v >= 0 && v < 100000'
check aftersales_service_open_fds 'v >= 5 && v < 100000'
check aftersales_service_uptime_seconds 'v > 0'
check aftersales_service_loop_lag_seconds 'v >= 0 && v < 60'
check aftersales_service_commands_inflight 'v >= 0'
check aftersales_service_commands_handled_total 'v >= 1' 'type="as.StatsRequest"'
check aftersales_service_commands_handled_total 'v >= 1' 'type="as.HealthRequest"'
check aftersales_service_commands_handled_total 'v >= 0' 'type="as.ListAudit"'
check aftersales_service_commands_refused_total 'v >= 0'
check aftersales_service_events_published_total 'v >= 0'
check aftersales_service_events_applied_total 'v >= 0'
check aftersales_service_outbox_backlog 'v >= 0'
check aftersales_service_db_connected 'v == 1'
check aftersales_service_db_round_trips_total 'v >= 1'
# The gateway's own process figures (read the same way as the services', as_proc_read).
gw_check() { # NAME EXPR
    local v
    v=$(printf '%s\n' "$M1" | awk -v n="$1" '$1 == n {print $2; exit}')
    t_check "the gateway reports $1 ($2; got ${v:-nothing})" \
        awk -v v="$v" -v now="$(date +%s)" "BEGIN {exit !(v != \"\" && $2)}"
}
gw_check process_resident_memory_bytes 'v > 1048576 && v < 4294967296'
gw_check process_cpu_seconds_total 'v >= 0 && v < 100000'
gw_check process_open_fds 'v >= 5 && v < 100000'
gw_check process_start_time_seconds 'v > now - 30 * 86400 && v <= now + 5'
check aftersales_service_db_round_trip_seconds_total 'v > 0'
check aftersales_service_db_round_trip_last_seconds 'v >= 0 && v < 60'
check aftersales_service_db_jobs_failed_total 'v >= 0'
check aftersales_service_db_jobs_queued 'v >= 0'

dups=$(printf '%s\n' "$M1" | grep '^# TYPE ' | sort | uniq -d | head -3)
t_eq "each metric name has one TYPE line" "" "$dups"
t_eq "the process series are counters or gauges as declared" \
    "# TYPE aftersales_service_cpu_seconds_total counter" \
    "$(printf '%s\n' "$M1" | grep '^# TYPE aftersales_service_cpu_seconds_total ')"
# A service with no stream to consume (people) still has its applied counter, at zero.
t_eq "people applies no events (it consumes none)" 0 "$(val "$M1" aftersales_service_events_applied_total people)"

# A ticket between two scrapes moves intake's figures.
before_open=$(val "$M1" aftersales_service_commands_handled_total intake 'type="intake.OpenTicket"')
before_pub=$(val "$M1" aftersales_service_events_published_total intake)
before_rtt=$(val "$M1" aftersales_service_db_round_trips_total intake)
t_check "intake's OpenTicket count is there before any ticket of this test" [ -n "$before_open" ]
imei=$(new_imei)
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg inv "$(days_ago 30)" --arg imei "$imei" --arg ph "139$(printf '%08d' $((RANDOM * RANDOM % 100000000)))" '{
  customer: {name: "Metrics Probe", phone: $ph},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei, imei_label: $imei},
  purchase: {invoice_date: $inv, price_cents: 199900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", description: "dead", listed: true}, request: "repair"}')"
t_status "the desk opens a ticket" 201
# The ticket's event is published by intake's relay right after the commit.
for ((i = 0; i < 100; i++)); do
    http GET /metrics "$AS_TOKEN_ADMIN"
    M2=$HTTP_BODY
    after_pub=$(val "$M2" aftersales_service_events_published_total intake)
    [ -n "$after_pub" ] && [ "${after_pub%.*}" -gt "${before_pub%.*}" ] && break
    sleep 0.1
done
t_check "intake's published events grow after a ticket ($before_pub -> $after_pub)" \
    [ "${after_pub:-0}" -gt "${before_pub%.*}" ]
after_open=$(val "$M2" aftersales_service_commands_handled_total intake 'type="intake.OpenTicket"')
after_rtt=$(val "$M2" aftersales_service_db_round_trips_total intake)
t_check "intake counts the OpenTicket command ($before_open -> $after_open)" \
    [ "${after_open%.*}" -ge $((${before_open%.*} + 1)) ]
t_check "intake's database round trips grow ($before_rtt -> $after_rtt)" \
    [ "${after_rtt%.*}" -gt "${before_rtt%.*}" ]
t_done
