# shellcheck shell=bash
# services/surveys/tests/lib.sh — helpers for the surveys integration tests
# (tests/integration/surveys_*.sh), sourced after tests/lib.sh. Kept here rather than in
# tests/integration/ because every *.sh there is run as a test program.
#
#   sv_sql SQL                 run SQL as as_surveys; prints rows (unaligned, | separated)
#   sv_close_ticket ID CENTER REGION CLOSED_AT
#                              call the TicketClosed handler directly, as the consumer would
#   sv_restart [NAME=VALUE...] stop as-surveys (SIGTERM; SIGKILL with SV_KILL=1) and start it
#                              again with those environment settings, e.g.
#                              AS_SURVEYS_TEST_MODE=1 AS_SURVEYS_CLOCK_OFFSET_S=3600
#   sv_clock SECONDS           move the test clock forward (test mode); sets SV_OFFSET
#   sv_new_id PREFIX           a ticket id unique to this run
#   sv_wait_complaint ID FILTER VALUE
#                              poll GET /v1/complaints/ID (up to 10 s) until the jq FILTER
#                              gives VALUE; the last answer stays in HTTP_BODY

sv_sql() { sql surveys "$1"; } # tests/lib.sh: as the surveys role, errors shown

sv_close_ticket() {
    local ev
    ev=$(jq -nc --arg t "$1" --arg c "$2" --arg r "$3" --arg at "$4" '{ticket_id: $t, center: $c,
        region: $r, outcome: "repaired", customer: {name: "Zhao Lei", phone: "13700001234"},
        category: "phone_host", brand: "Huaxin", closed_at: $at}')
    sv_sql "SELECT on_ticket_closed('$ev'::jsonb)"
}

sv_new_id() {
    printf '%s%s%04d' "$1" "$(date +%s | tail -c 6)" $((RANDOM % 10000))
}

sv_restart() { SVC_KILL=${SV_KILL:-0} svc_restart surveys "$@"; } # tests/lib.sh

sv_clock() {
    http POST /v1/surveys/test/clock "$AS_TOKEN_ADMIN" "{\"seconds\":$1}"
    SV_OFFSET=$(jbody .offset_s)
}

sv_wait_complaint() { wait_http "/v1/complaints/$1" "$AS_TOKEN_ADMIN" "$2" "$3"; }
