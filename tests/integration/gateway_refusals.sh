#!/usr/bin/env bash
# Seen, not silent: /healthz without the admin's token says only up or down (which service is
# down, versions and clock skews are the admin's); every refused request (401, 403, 413, parse
# errors) is logged by the gateway with the client's address and the reason.
. "$(dirname "$0")/../lib.sh"

http GET /healthz
t_status "/healthz without a token answers" 200
t_eq "/healthz without a token says only up or down" '["status"]' "$(jbody 'keys' | jq -c .)"
http GET /healthz "$AS_TOKEN_CENTER"
t_eq "/healthz with a desk's token says only up or down" '["status"]' "$(jbody 'keys' | jq -c .)"
http GET /healthz "$AS_TOKEN_ADMIN"
t_eq "/healthz with the admin's token names every service" ok "$(jbody .services.intake.status)"

LOG=$AS_VAR/log/gateway.log
mark=$(wc -l <"$LOG")
http GET /v1/tickets "not-a-token-$RANDOM"
t_status "an unknown token gets 401" 401
http GET /metrics "$AS_TOKEN_CENTER"
t_status "a desk asking for /metrics gets 403" 403
big=$(head -c 2000000 /dev/zero | tr '\0' 'a')
code=$(printf '{"x":"%s"}' "$big" | curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $AS_TOKEN_CENTER" \
    -H 'Content-Type: application/json' --data-binary @- "$AS_GATEWAY_URL/v1/tickets")
t_eq "a body over the limit gets 413" 413 "$code"
code=$(printf 'GARBAGE / HTTP/1.1\r\n\r\n' | curl -s -o /dev/null -w '%{http_code}' --max-time 5 telnet://127.0.0.1:"$AS_HTTP_PORT" 2>/dev/null || true)
sleep 0.3
new=$(tail -n +"$((mark + 1))" "$LOG")
for st in 401 403 413; do
    if grep -q "refused.*peer=127\.0\.0\.1:[0-9]* status=$st" <<<"$new"; then
        t_ok "a $st is logged with the address"
    else
        t_fail "a $st is logged with the address" "no 'refused ... status=$st' line"
    fi
done
if grep -q 'refused.*status=400 reason=bad_request' <<<"$new"; then
    t_ok "a malformed request is logged with the reason"
else
    t_fail "a malformed request is logged with the reason" "no 'refused ... status=400 reason=bad_request' line"
fi
t_done
