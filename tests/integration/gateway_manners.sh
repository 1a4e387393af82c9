#!/usr/bin/env bash
# HTTP manners (issue 20 points 4 and the /metrics and /healthz sign-in):
#   - 201 carries Location (the new ticket's URL, which answers GET);
#   - 401 carries WWW-Authenticate: Bearer; 405 carries Allow with the path's methods;
#   - HEAD on a GET route: the GET's status and headers, no body;
#   - reads carry an ETag; If-None-Match with it is 304 without body; a change to a ticket with
#     If-Match of a stale ETag is 412 and changes nothing, with the current one it goes through;
#   - CORS by setting: an allowed origin gets Access-Control-Allow-Origin and its preflight 204,
#     another origin no CORS header and a 403 preflight;
#   - X-Forwarded-For/-Proto are believed only from a configured proxy (the access log's client);
#   - /metrics and /healthz take a signed-in admin's session and personal token like every route.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

t_need_gateway
t_scratch
ticket_body() { ticket_json '.customer = {name: "Manners Test", phone: "13900005555"}'; }
# req METHOD PATH [curl args...] — status into $code, headers into $TMP/h, body into $TMP/b
req() {
    local m=$1 p=$2
    shift 2
    : >"$TMP/b"
    code=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X "$m" "$@" "$URL$p")
}
URL=$AS_GATEWAY_URL
AUTH=(-H "Authorization: Bearer $AS_TOKEN_CENTER")

# ---- Location ----
req POST /v1/tickets "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "$(ticket_body)"
t_eq "a ticket opens" 201 "$code"
ID=$(jq -r .id "$TMP/b")
t_eq "201 carries Location: the new ticket's URL" "/v1/tickets/$ID" "$(hdr Location)"
req GET "$(hdr Location)" "${AUTH[@]}"
t_eq "the Location answers GET" "200 $ID" "$code $(jq -r .id "$TMP/b")"

# ---- WWW-Authenticate, Allow ----
req GET /v1/tickets
t_eq "no token: 401" 401 "$code"
t_match "401 carries WWW-Authenticate: Bearer" '^Bearer realm="aftersales"' "$(hdr WWW-Authenticate)"
req DELETE "/v1/tickets/$ID" "${AUTH[@]}"
t_eq "DELETE on a ticket: 405" 405 "$code"
t_eq "405 carries Allow with the path's methods" "GET, HEAD" "$(hdr Allow)"
req PUT /v1/tickets "${AUTH[@]}"
t_eq "405 on /v1/tickets lists GET, HEAD and POST" "GET, HEAD, POST" "$(hdr Allow)"

# ---- HEAD, ETag, If-None-Match ----
req GET "/v1/tickets/$ID" "${AUTH[@]}"
ETAG=$(hdr ETag)
LEN=$(hdr Content-Length)
t_match "a read carries an ETag" '^"[0-9a-f]{16}"$' "$ETAG"
code=$(curl -sS -I -o "$TMP/h" -w '%{http_code}' "${AUTH[@]}" "$URL/v1/tickets/$ID")
t_eq "HEAD on a GET route: 200" 200 "$code"
t_eq "HEAD: the GET's ETag and Content-Length" "$ETAG $LEN" "$(hdr ETag) $(hdr Content-Length)"
req GET "/v1/tickets/$ID" "${AUTH[@]}" -H "If-None-Match: $ETAG"
t_eq "If-None-Match with the ETag: 304" 304 "$code"
t_eq "304 has no body" 0 "$(stat -c %s "$TMP/b")"
req GET "/v1/tickets/$ID" "${AUTH[@]}" -H 'If-None-Match: "0000000000000000"'
t_eq "If-None-Match with another ETag: 200" 200 "$code"

# ---- If-Match on a change to the ticket ----
req POST "/v1/tickets/$ID/cancel" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -H 'If-Match: "0123456789abcdef"' --data-binary '{"reason":"customer changed their mind"}'
t_eq "a change with a stale If-Match: 412" 412 "$code"
t_eq "412 says precondition_failed" precondition_failed "$(jq -r .error.code "$TMP/b")"
req GET "/v1/tickets/$ID" "${AUTH[@]}"
t_eq "the 412 changed nothing (same ETag)" "$ETAG" "$(hdr ETag)"
req POST "/v1/tickets/$ID/cancel" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -H "If-Match: $ETAG" --data-binary '{"reason":"customer changed their mind"}'
t_eq "a change with the current If-Match goes through" 200 "$code"
req GET "/v1/tickets/$ID" "${AUTH[@]}"
t_eq "the ticket is cancelled" cancelled "$(jq -r .state "$TMP/b")"
[ "$(hdr ETag)" != "$ETAG" ] && t_ok "the change gave the ticket a new ETag" || t_fail "the change gave the ticket a new ETag" "$ETAG"
req POST "/v1/tickets/no-such-ticket/cancel" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -H 'If-Match: "0123456789abcdef"' --data-binary '{"reason":"x"}'
t_eq "If-Match on an unknown ticket: 404" 404 "$code"

# ---- /metrics and /healthz with a signed-in admin ----
http POST /v1/auth/login "" "{\"login\":\"$AS_ADMIN_LOGIN\",\"password\":\"$AS_ADMIN_PASSWORD\"}"
SESSION=$(jbody .session_token)
code=$(curl -s -o "$TMP/m" -w '%{http_code}' -H "Cookie: as_session=$SESSION" "$URL/metrics")
t_eq "/metrics with an admin's session cookie: 200" 200 "$code"
grep -q '^aftersales_' "$TMP/m" && t_ok "... and the metrics" || t_fail "... and the metrics" "$(head -c 300 "$TMP/m")"
http GET /healthz "$SESSION"
t_status "/healthz with an admin's session as bearer: 200" 200
t_jq "... with every service's details" .services.intake.status ok
http GET /metrics "$AS_TOKEN_CENTER"
t_status "/metrics for a desk: 403" 403
http GET /metrics "nope-$RANDOM"
t_status "/metrics with an unknown token: 401" 401
http GET /healthz
t_status "/healthz without a token still answers" 200
t_eq "... only up or down" '["status"]' "$(jbody 'keys' | jq -c .)"

# ---- CORS and X-Forwarded-* on a gateway of ours with those settings ----
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AS_GATEWAY_HTTP_PORT=$P AS_GATEWAY_CORS_ORIGINS="https://crm.example.test https://b.example.test" \
    AS_GATEWAY_TRUSTED_PROXIES=127.0.0.1 "$GW" --config "$AS_CONFIG" >"$TMP/gw.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$P/livez" && break; sleep 0.1; done
URL=http://127.0.0.1:$P
req GET "/v1/tickets/$ID" "${AUTH[@]}" -H 'Origin: https://crm.example.test'
t_eq "an allowed origin gets Access-Control-Allow-Origin" "https://crm.example.test" "$(hdr Access-Control-Allow-Origin)"
t_match "... and sees ETag and X-Request-Id" 'ETag.*X-Request-Id' "$(hdr Access-Control-Expose-Headers)"
req GET "/v1/tickets/$ID" "${AUTH[@]}" -H 'Origin: https://evil.example.test'
t_eq "another origin gets no CORS header" "" "$(hdr Access-Control-Allow-Origin)"
req OPTIONS /v1/tickets -H 'Origin: https://b.example.test' -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: authorization, content-type'
t_eq "a preflight from an allowed origin: 204" 204 "$code"
t_eq "... with the path's methods" "GET, HEAD, POST" "$(hdr Access-Control-Allow-Methods)"
t_match "... and the headers it may send" 'Authorization.*Idempotency-Key.*If-Match' "$(hdr Access-Control-Allow-Headers)"
req OPTIONS /v1/tickets -H 'Origin: https://evil.example.test' -H 'Access-Control-Request-Method: POST'
t_eq "a preflight from another origin: 403" 403 "$code"
URL=$AS_GATEWAY_URL
req OPTIONS /v1/tickets -H 'Origin: https://crm.example.test' -H 'Access-Control-Request-Method: POST'
t_eq "without cors_origins no origin passes a preflight" 403 "$code"

URL=http://127.0.0.1:$P
req GET /v1/tickets?limit=1 "${AUTH[@]}" -H 'X-Forwarded-For: 198.51.100.7' -H 'X-Forwarded-Proto: https' -H 'X-Request-Id: xff-trusted-'$$
URL=$AS_GATEWAY_URL
req GET /v1/tickets?limit=1 "${AUTH[@]}" -H 'X-Forwarded-For: 198.51.100.8' -H 'X-Forwarded-Proto: https' -H 'X-Request-Id: xff-untrusted-'$$
sleep 0.5
t_match "from a trusted proxy the access log names the forwarded client and scheme" \
    'client=198\.51\.100\.7 proto=https' "$(grep -F "request_id=xff-trusted-$$" "$TMP/gw.log")"
t_match "from anyone else X-Forwarded-* are ignored" 'client=127\.0\.0\.1 proto=http ' \
    "$(grep -F "request_id=xff-untrusted-$$" "$AS_VAR/log/gateway.log")"
t_done
