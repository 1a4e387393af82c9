#!/usr/bin/env bash
# Clocks are not trusted across processes: a command's deadline travels as the budget left
# (counted on the receiver's monotonic clock), so a skew between programs changes nothing.
#
#   1. as-intake is restarted under libfaketime with its clock 10 s ahead: /healthz is 200, a
#      ticket opens (201), the skew shows in /metrics (aftersales_clock_skew_ms, about -10 s)
#      and in intake's log ("clock skew").
#   2. as-gateway is restarted with its clock an hour behind: /healthz is 200 and tickets open,
#      several in a row.
# Both are restarted normally at the end. Without libfaketime (Debian package faketime) the
# checks are skipped with one `ok` line.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../faults/lib.sh"

FAKETIME_LIB=${AS_FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
if [ ! -f "$FAKETIME_LIB" ]; then
    t_ok "# SKIP libfaketime is not installed ($FAKETIME_LIB)"
    t_done
fi
# A sanitizer build cannot run under libfaketime: ASan must be the first library loaded, and an
# LD_PRELOAD of libfaketime comes before it (the program refuses to start).
if [ "${SAN:-}" = 1 ] || [[ ${AS_BUILD:-} == *san* ]]; then
    t_ok "# SKIP the sanitizer build cannot run under LD_PRELOAD=libfaketime"
    t_done
fi

ticket_body() { ticket_json '.customer.name = "Clock Test"'; }

# restart NAME [FAKETIME] — stop as-NAME and start it again, under the fake clock if given.
restart() {
    local name=$1 fake=${2:-}
    f_stop "$name"
    if [ -n "$fake" ]; then
        declare -g "F_EXEC_PREFIX_$name=env LD_PRELOAD=$FAKETIME_LIB FAKETIME=$fake"
    else
        unset "F_EXEC_PREFIX_$name"
    fi
    f_start "$name"
    f_wait 60 f_healthy
}
cleanup() {
    if [ -n "${F_EXEC_PREFIX_intake:-}" ]; then restart intake >/dev/null 2>&1; fi
    if [ -n "${F_EXEC_PREFIX_gateway:-}" ]; then restart gateway >/dev/null 2>&1; fi
}
trap cleanup EXIT

# ---- 1. intake 10 s ahead ----
if restart intake +10s; then
    t_ok "with intake's clock 10 s ahead the stack is healthy"
else
    t_fail "with intake's clock 10 s ahead the stack is healthy" "$(curl -s --max-time 5 "$AS_GATEWAY_URL/healthz")"
fi
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body)"
t_status "with intake's clock 10 s ahead a ticket opens" 201
http GET /metrics "$AS_TOKEN_ADMIN"
skew=$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^aftersales_clock_skew_ms{service="intake"} \(-\{0,1\}[0-9]*\)$/\1/p')
t_note "intake's skew as exported: ${skew:-none} ms"
if [ -n "$skew" ] && [ "$skew" -le -8000 ] && [ "$skew" -ge -12000 ]; then
    t_ok "the skew is exported in /metrics (about -10 s for intake)"
else
    t_fail "the skew is exported in /metrics (about -10 s for intake)" "got '${skew:-none}'"
fi
if grep -q 'clock skew' "$AS_VAR/log/intake.log"; then
    t_ok "intake logs the skew"
else
    t_fail "intake logs the skew" "no 'clock skew' line in $AS_VAR/log/intake.log"
fi
restart intake >/dev/null || t_fail "intake restarts with the true clock" "not healthy"

# ---- 2. the gateway an hour behind ----
if restart gateway -3600s; then
    t_ok "with the gateway's clock an hour behind the stack is healthy"
else
    t_fail "with the gateway's clock an hour behind the stack is healthy" "$(curl -s --max-time 5 "$AS_GATEWAY_URL/healthz")"
fi
ok=0
for i in 1 2 3; do
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body)"
    [ "$HTTP_STATUS" = 201 ] && ok=$((ok + 1))
done
t_eq "with the gateway's clock an hour behind three tickets open in a row" 3 "$ok"
restart gateway >/dev/null || t_fail "the gateway restarts with the true clock" "not healthy"
t_done
