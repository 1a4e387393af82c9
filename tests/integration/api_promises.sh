#!/usr/bin/env bash
# The API's own promises, tried as an attacker would (issue 14 points 15, issue 16 points 2, 3, 5):
#   - scope fails closed: a centre principal without a site (a region one without a region) is
#     refused when the gateway loads its token, and every SQL scope check says "no" (never NULL);
#   - distinct Idempotency-Keys never collide, however long the subject (a second gateway with a
#     48-character subject opens two tickets for two 80-character keys differing at the end);
#   - a key reused with another body is 422 idempotency_key_reused, never the other reply;
#   - concurrent requests with one key get the one answer or 409 in_progress, never 503;
#   - reads are not stored and replayed by key; two Authorization headers are a 400.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

t_need_gateway
t_scratch

ticket_body() { # phone
    ticket_json ".customer = {name: \"Promise Test\", phone: \"$1\"}" \
        ".purchase.invoice_date = \"$(days_ago 20)\"" 'del(.device.imei_label)'
}

# --- scope fails closed: at the gateway, when the token is loaded ---
printf '%s desk.nosite center - east\n' "$(printf x | sha256sum | cut -d' ' -f1)" >"$TMP/bad-center"
printf '%s mgr.noregion region - -\n' "$(printf y | sha256sum | cut -d' ' -f1)" >"$TMP/bad-region"
for f in bad-center bad-region; do
    out=$(AS_GATEWAY_TOKENS_FILE=$TMP/$f AS_GATEWAY_HTTP_PORT=$(free_port) \
        timeout 10 "$GW" --config "$AS_CONFIG" 2>&1)
    rc=$?
    t_eq "$f: the gateway refuses a token file with an unscoped principal" 1 "$rc"
    t_match "  saying which line and what is missing" "$f:1: a (center|region) principal needs its (site|region)" "$out"
done

# --- scope fails closed: in every SQL check ---
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000001)"
t_status "SH01 opens a ticket" 201
TID=$(jbody .id)
nosite='{"role":"center","subject":"desk.nosite"}'
noregion='{"role":"region","subject":"mgr.noregion"}'
out=$(sql intake "SELECT exec_command('scope-$RANDOM$RANDOM', 'cmd_get_ticket', '$nosite', '{\"id\":\"$TID\"}')")
t_match "intake: a centre principal without a site cannot read SH01's ticket by id" "not_found" "$out"
out=$(sql intake "SELECT exec_command('scope-$RANDOM$RANDOM', 'cmd_get_ticket', '$noregion', '{\"id\":\"$TID\"}')")
t_match "intake: a region principal without a region cannot either" "not_found" "$out"
out=$(sql intake "SELECT jsonb_array_length(exec_command('scope-$RANDOM$RANDOM', 'cmd_list_tickets', '$nosite', '{}')->'body'->'tickets')")
t_eq "intake: and lists nothing" 0 "$out"
for svc in intake settlement surveys; do
    t_eq "$svc: may_see() is false, not NULL, for a centre without a site" f \
        "$(sql "$svc" "SELECT may_see('$nosite', 'SH01', 'east')")"
    t_eq "$svc: and for a region without a region" f \
        "$(sql "$svc" "SELECT may_see('$noregion', 'SH01', 'east')")"
done
t_eq "parts: may_read() is false for a centre without a site" f "$(sql parts "SELECT may_read('$nosite', 'SH01')")"
t_eq "parts: may_write() too" f "$(sql parts "SELECT may_write('$nosite', 'SH01')")"
t_eq "parts: may_read() is false for a region without a region" f "$(sql parts "SELECT may_read('$noregion', 'SH01')")"

# --- distinct keys never collide (a 48-character subject, 80-character keys) ---
SUBJECT=desk.sh01.with.a.rather.long.subject.name.xx48ch
t_eq "the subject is 48 characters" 48 "${#SUBJECT}"
TOKEN2=promise-$RANDOM$RANDOM$RANDOM
printf '%s %s center SH01 east\n' "$(printf '%s' "$TOKEN2" | sha256sum | cut -d' ' -f1)" "$SUBJECT" >"$TMP/tokens"
PORT2=$(free_port)
AS_GATEWAY_TOKENS_FILE=$TMP/tokens AS_GATEWAY_HTTP_PORT=$PORT2 \
    "$GW" --config "$AS_CONFIG" >"$TMP/gw2.log" 2>&1 &
GW2_PID=$!
PIDS+=("$GW2_PID")
GW2=http://127.0.0.1:$PORT2
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$GW2/healthz" && break
    sleep 0.1
done
post2() { # KEY BODY — POST /v1/tickets on the second gateway; prints "status id"
    curl -sS --max-time 30 -o "$TMP/body" -w '%{http_code}' -X POST "$GW2/v1/tickets" \
        -H "Authorization: Bearer $TOKEN2" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $1" --data-binary "$2"
    printf ' %s' "$(jq -r '.id // .error.code' "$TMP/body")"
}
prefix=$(printf 'k%.0s' $(seq 1 79))
KEY_A=${prefix}A
KEY_B=${prefix}B
t_eq "the keys are 80 characters" 80 "${#KEY_A}"
read -r sa ida <<<"$(post2 "$KEY_A" "$(ticket_body 13800000002)")"
read -r sb idb <<<"$(post2 "$KEY_B" "$(ticket_body 13800000003)")"
t_eq "the first customer's ticket is opened" 201 "$sa"
t_eq "the second customer's ticket is opened (status)" 201 "$sb"
if [ -n "$ida" ] && [ "$ida" != "$idb" ]; then
    t_ok "two keys that differ only at the end open two tickets"
else
    t_fail "two keys that differ only at the end open two tickets" "got '$ida' and '$idb'"
fi

# --- a key reused with another body is refused ---
read -r sr idr <<<"$(post2 "$KEY_A" "$(ticket_body 13800000004)")"
t_eq "a key reused for another body is 422" 422 "$sr"
t_eq "  idempotency_key_reused, not the first request's ticket" idempotency_key_reused "$idr"
first_body=$(ticket_body 13800000005)
KEY_C=replay-$RANDOM$RANDOM
read -r s1 id1 <<<"$(post2 "$KEY_C" "$first_body")"
read -r s2 id2 <<<"$(post2 "$KEY_C" "$first_body")"
t_eq "the same body with the same key is answered again" "201 $id1" "$s2 $id2"

# --- concurrent requests with one key: the one answer or 409 in_progress, never 503 ---
KEY_D=race-$RANDOM$RANDOM
body=$(ticket_body 13800000006)
for i in 1 2 3 4 5 6 7 8; do
    curl -sS --max-time 30 -o "$TMP/race.$i" -w '%{http_code}\n' -X POST "$GW2/v1/tickets" \
        -H "Authorization: Bearer $TOKEN2" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $KEY_D" --data-binary "$body" >"$TMP/race-status.$i" &
done
wait $(jobs -p | grep -v "^$GW2_PID\$") 2>/dev/null || true
statuses=$(cat "$TMP"/race-status.* | sort | uniq -c | awk '{print $2"x"$1}' | paste -sd' ' -)
bad=$(cat "$TMP"/race-status.* | grep -Ev '^(201|409)$' || true)
t_eq "eight concurrent requests with one key: each 201 or 409 ($statuses)" "" "$bad"
ids=$(for i in 1 2 3 4 5 6 7 8; do jq -r 'select(.id) | .id' "$TMP/race.$i"; done | sort -u | wc -l)
t_eq "  and every 201 names the one ticket" 1 "$ids"
codes=$(for i in 1 2 3 4 5 6 7 8; do jq -r '.error.code // empty' "$TMP/race.$i"; done | sort -u | paste -sd, -)
t_match "  a refused one says in_progress" '^(in_progress)?$' "$codes"

# --- reads are never stored and replayed by key ---
KEY_R=read-$RANDOM$RANDOM
http GET "/v1/tickets/$TID" "$AS_TOKEN_CENTER" "" -H "Idempotency-Key: $KEY_R"
t_status "a GET with an Idempotency-Key is served" 200
http POST "/v1/tickets/$TID/cancel" "$AS_TOKEN_CENTER" '{"reason":"promise test"}'
t_status "the ticket is cancelled" 200
http GET "/v1/tickets/$TID" "$AS_TOKEN_CENTER" "" -H "Idempotency-Key: $KEY_R" -D "$TMP/hdr"
t_jq "the same GET with the same key shows the ticket as it is now" .state cancelled
t_check "  and is not marked as replayed" bash -c "! grep -qi '^Idempotent-Replayed' '$TMP/hdr'"

# --- two Authorization headers ---
http GET "/v1/tickets/$TID" "$AS_TOKEN_CENTER" "" -H "Authorization: Bearer $AS_TOKEN_ADMIN"
t_status "two Authorization headers are a 400" 400
http GET "/v1/tickets/$TID" "" "" -H "Authorization: Bearer $AS_TOKEN_CENTER_B" \
    -H "Authorization: Bearer $AS_TOKEN_CENTER"
t_status "  in either order" 400

# --- small leaks ---
# A refusal does not say where a hidden ticket lives: east's manager names a GZ01 ticket.
HID=T-HIDDEN-$RANDOM$RANDOM
sql surveys "INSERT INTO callbacks(id, ticket_id, center, region, closed_at, first_due_at, due_at,
             max_attempts, created_at, updated_at)
             VALUES ('CB-$HID', '$HID', 'GZ01', 'south', now(), now(), now(), 3, now(), now())" >/dev/null
http POST /v1/complaints "$AS_TOKEN_REGION" "{\"ticket_id\":\"$HID\",\"channel\":\"phone\",\"cause\":\"price\",\"description\":\"too dear\"}"
t_status "a complaint for another region's ticket is 404, as if the ticket did not exist" 404
t_check "  and the answer does not name its centre" bash -c "! grep -q GZ01 <<<'$HTTP_BODY'"

# A path parameter that is not text is a 400, never replaced by the body's field.
http POST "/v1/tickets/%FF/cancel" "$AS_TOKEN_CENTER" "{\"id\":\"$TID\",\"reason\":\"x\"}"
t_status "an invalid path parameter is a 400" 400
t_jq "  invalid_path" .error.code invalid_path
# A body id that disagrees with the path is a 400.
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000007)"
TID2=$(jbody .id)
http POST "/v1/tickets/$TID2/cancel" "$AS_TOKEN_CENTER" "{\"id\":\"$TID\",\"reason\":\"x\"}"
t_status "a body id that disagrees with the path is a 400" 400
t_match "  saying so" "'id' disagrees with the path" "$(jbody .error.message)"
http GET "/v1/tickets/$TID2" "$AS_TOKEN_CENTER"
t_check "  and the ticket is unchanged" test "$(jbody .state)" != cancelled
http POST "/v1/tickets/$TID2/cancel" "$AS_TOKEN_CENTER" "{\"id\":\"$TID2\",\"reason\":\"x\"}"
t_status "a body id equal to the path is fine" 200

# The warehouse's views show no customer names (a loaner unit lent to a customer).
LN=LN-P$RANDOM$RANDOM
http POST /v1/parts/loaners "$AS_TOKEN_WAREHOUSE" "{\"serial\":\"$LN\",\"site\":\"SH01\",\"sku\":\"HX-LOANER\",\"model\":\"Huaxin HX-8\"}"
t_status "the warehouse registers a loaner unit" 201
# Lent against an open ticket of SH01 (parts refuses a closed one), once parts knows it.
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000008)"
TID3=$(jbody .id)
for _ in $(seq 1 100); do
    [ "$(q parts "SELECT count(*) FROM intake_tickets WHERE ticket_id = '$TID3'")" = 1 ] && break
    sleep 0.1
done
http POST "/v1/parts/loaners/$LN/lend" "$AS_TOKEN_CENTER" "{\"ticket_id\":\"$TID3\",\"customer\":\"Han Meimei\",\"phone\":\"13912345678\"}"
t_status "SH01 lends it to a customer" 200
http GET "/v1/parts/loaners?site=SH01&state=lent" "$AS_TOKEN_CENTER"
t_jq "the centre's list names the customer" ".loaners[] | select(.serial == \"$LN\") | .customer" "Han Meimei"
http GET "/v1/parts/loaners?site=SH01&state=lent" "$AS_TOKEN_WAREHOUSE"
t_jq "the warehouse's list shows the unit and ticket" ".loaners[] | select(.serial == \"$LN\") | .ticket_id" "$TID3"
t_jq "  but no customer name or phone" ".loaners[] | select(.serial == \"$LN\") | [.customer, .phone] | map(select(. != null)) | length" 0

# --- reference data is checked: an unknown brand is a 422 listing the known ones ---
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000008 | jq -c '.device.brand = "Nokla"')"
t_status "a ticket for an unknown brand is a 422" 422
t_jq "  unknown_brand" .error.code unknown_brand
t_match "  listing the known brands" "known: .*Huaxin" "$(jbody .error.message)"
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000009 | jq -c '.device.brand = "huaxin"')"
t_status "a known brand in another case is fine" 201
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(ticket_body 13800000010 | jq -c '.center = "XX99"')"
t_status "an unknown centre is a 422" 422
t_jq "  unknown_center" .error.code unknown_center

http GET "/v1/parts/stock?site=NOPE9" "$AS_TOKEN_CENTER"
t_status "an unknown site is a 422" 422
t_match "  listing the caller's sites" "site NOPE9 does not exist \(your sites: SH01\)" "$(jbody .error.message)"

t_done
