#!/usr/bin/env bash
# people: on the running stack, with no SQL and no restart — the bootstrap administrator signs
# in, opens a region and a centre in it, creates a desk user and a region manager; the desk
# user's first ticket names them in its timeline and audit; revoking the desk user's token and
# disabling an account take effect at once. Bad input: 409 duplicates, 422 unknown references and
# weak passwords, 403 across regions, CSRF on cookie sessions, lockout after failed sign-ins.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
REGION=r$RUN
CENTER=C$RUN
DESK=desk.$RUN
MGR=mgr.$RUN
PW_DESK="Desk-pass-$RUN!"
PW_MGR="Mgr-pass-$RUN!"

# login LOGIN PASSWORD — POST /v1/auth/login; the session secret lands in $SESSION, the CSRF
# token in $CSRF.
login() {
    http POST /v1/auth/login "" "{\"login\":\"$1\",\"password\":\"$2\"}"
    SESSION=$(jbody .session_token)
    CSRF=$(jbody .csrf_token)
}

# --- the administrator signs in with the bootstrap account ---
login "$AS_ADMIN_LOGIN" "$AS_ADMIN_PASSWORD"
t_status "the bootstrap administrator signs in" 200
ADMIN=$SESSION
t_eq "the login answer names the account" admin "$(jbody .user.role)"
t_match "the session is a 64-hex secret" '^[0-9a-f]{64}$' "$ADMIN"
out=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"login\":\"$AS_ADMIN_LOGIN\",\"password\":\"$AS_ADMIN_PASSWORD\"}" \
    "$AS_GATEWAY_URL/v1/auth/login" | tr -d '\r' | grep -i '^set-cookie:')
t_match "the session cookie is HttpOnly and SameSite=Strict" \
    '^[Ss]et-[Cc]ookie: as_session=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict' "$out"
http GET /v1/auth/me "$ADMIN"
t_status "GET /v1/auth/me with the session" 200
t_eq "me: the administrator's login" "$AS_ADMIN_LOGIN" "$(jbody .login)"
t_eq "me: a session" session "$(jbody .auth)"

# --- the network: a region and a centre, through the API ---
http POST /v1/regions "$ADMIN" "{\"code\":\"$REGION\",\"name\":\"Test region $RUN\"}"
t_status "the administrator creates a region" 201
http POST /v1/regions "$ADMIN" "{\"code\":\"$REGION\",\"name\":\"again\"}"
t_status "a duplicate region is 409" 409
http POST /v1/centers "$ADMIN" "{\"code\":\"$CENTER\",\"name\":\"Test centre $RUN\",\"region\":\"$REGION\",
    \"address\":\"1 Test Road\",\"phone\":\"021-5555\",\"hours\":\"Mon-Fri 9-18\",
    \"categories\":[\"phone_host\"],\"brands\":[\"Huaxin\"]}"
t_status "the administrator opens a centre in the new region" 201
t_eq "the centre is open" open "$(jbody .state)"
http POST /v1/centers "$ADMIN" "{\"code\":\"$CENTER\",\"name\":\"again\",\"region\":\"$REGION\"}"
t_status "a duplicate centre code is 409" 409
http POST /v1/centers "$ADMIN" "{\"code\":\"X$RUN\",\"name\":\"x\",\"region\":\"nowhere$RUN\"}"
t_status "an unknown region is 422" 422
http POST /v1/centers "$ADMIN" "{\"code\":\"X$RUN\",\"name\":\"x\",\"region\":\"$REGION\",\"brands\":[\"NoSuchBrand$RUN\"]}"
t_status "an unknown brand is 422" 422
http GET "/v1/centers?region=$REGION" "$AS_TOKEN_CENTER"
t_eq "every role reads the centres of a region" "$CENTER" "$(jbody '.centers[].code')"

# --- staff: a desk user and a region manager ---
http POST /v1/users "$ADMIN" "{\"login\":\"$DESK\",\"display_name\":\"Wang Fang $RUN\",\"role\":\"center\",\"site\":\"$CENTER\",\"password\":\"$PW_DESK\"}"
t_status "the administrator creates a desk user for the new centre" 201
t_eq "the desk user's region comes from the centre" "$REGION" "$(jbody .region)"
http POST /v1/users "$ADMIN" "{\"login\":\"$MGR\",\"display_name\":\"Region Manager $RUN\",\"role\":\"region\",\"region\":\"$REGION\",\"password\":\"$PW_MGR\"}"
t_status "the administrator creates the region's manager" 201
http POST /v1/users "$ADMIN" "{\"login\":\"$DESK\",\"display_name\":\"dup\",\"role\":\"center\",\"site\":\"$CENTER\",\"password\":\"$PW_DESK\"}"
t_status "a duplicate login name is 409" 409
http POST /v1/users "$ADMIN" "{\"login\":\"x$RUN\",\"display_name\":\"x\",\"role\":\"center\",\"site\":\"NOPE$RUN\",\"password\":\"$PW_DESK\"}"
t_status "an unknown site is 422" 422
http POST /v1/users "$ADMIN" "{\"login\":\"x$RUN\",\"display_name\":\"x\",\"role\":\"region\",\"region\":\"nowhere$RUN\",\"password\":\"$PW_DESK\"}"
t_status "an unknown region for a manager is 422" 422
http POST /v1/users "$ADMIN" "{\"login\":\"x$RUN\",\"display_name\":\"x\",\"role\":\"center\",\"site\":\"$CENTER\",\"password\":\"short1\"}"
t_status "a short password is 422" 422
t_eq "it says why" weak_password "$(jbody .error.code)"
t_match "the message names the rule" "shorter than 10" "$(jbody .error.message)"
http POST /v1/users "$ADMIN" "{\"login\":\"x$RUN\",\"display_name\":\"x\",\"role\":\"center\",\"site\":\"$CENTER\",\"password\":\"abcdefghijkl\"}"
t_status "a password of one kind of character is 422" 422
http POST /v1/users "$ADMIN" "{\"login\":\"x$RUN\",\"display_name\":\"x\",\"role\":\"center\",\"site\":\"$CENTER\",\"password\":\"x${RUN}Secret!\"}"
t_status "a password containing the login is 422" 422

# --- the region manager manages its region, and only it ---
login "$MGR" "$PW_MGR"
t_status "the region manager signs in" 200
MGR_S=$SESSION
http POST /v1/centers "$MGR_S" "{\"code\":\"M$RUN\",\"name\":\"Manager's centre\",\"region\":\"$REGION\"}"
t_status "the manager opens a centre in its region" 201
http POST /v1/centers "$MGR_S" "{\"code\":\"E$RUN\",\"name\":\"x\",\"region\":\"east\"}"
t_status "the manager opening a centre in another region is 403" 403
http POST /v1/centers/SH01/suspend "$MGR_S" '{"reason":"test"}'
t_status "the manager suspending another region's centre is 403" 403
http POST /v1/users "$MGR_S" "{\"login\":\"d2.$RUN\",\"display_name\":\"Second desk\",\"role\":\"center\",\"site\":\"M$RUN\",\"password\":\"$PW_DESK\"}"
t_status "the manager creates centre staff in its region" 201
http POST /v1/users "$MGR_S" "{\"login\":\"d3.$RUN\",\"display_name\":\"x\",\"role\":\"center\",\"site\":\"SH01\",\"password\":\"$PW_DESK\"}"
t_status "the manager creating staff for another region's centre is 403" 403
http POST /v1/users/desk.sh01/password "$MGR_S" "{\"password\":\"$PW_DESK\"}"
t_status "the manager resetting another region's staff password is 403" 403
http GET /v1/users "$MGR_S"
t_eq "the manager lists only its region's staff" "d2.$RUN $DESK" "$(jbody '[.users[].login] | sort | join(" ")')"
http POST /v1/centers/M$RUN/suspend "$MGR_S" '{"reason":"renovation"}'
t_status "the manager suspends its own centre" 200
t_eq "suspended" suspended "$(jbody .state)"

# --- the desk user: a personal token, the first ticket names them ---
login "$DESK" "$PW_DESK"
t_status "the desk user signs in" 200
DESK_S=$SESSION
http POST /v1/auth/tokens "$DESK_S" '{"name":"till","expires_in_days":30}'
t_status "the desk user makes a personal API token" 201
TOKEN=$(jbody .token)
TOKEN_ID=$(jbody .id)
t_match "the token is shown once, with its expiry" '^[0-9a-f]{64} 20[0-9-]{8}T' "$TOKEN $(jbody .expires_at)"
imei=$(new_imei)
body=$(jq -nc --arg imei "$imei" --arg inv "$(date -d '-3 days' +%F)" '{
  customer: {name: "Li Lei", phone: "13800001234"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
  purchase: {invoice_date: $inv, price_cents: 299900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "refund"}')
http POST /v1/tickets "$TOKEN" "$body"
t_status "the desk user's token opens a ticket at the new centre (no restart, no SQL)" 201
TICKET=$(jbody .id)
t_eq "the ticket is the new centre's" "$CENTER" "$(jbody .center)"
http GET "/v1/tickets/$TICKET" "$DESK_S"
t_eq "the timeline names the desk user" "$DESK" "$(jbody '.timeline[0].actor')"

# --- the audit trail names the person (GET /v1/audit merges every service's rows) ---
http GET "/v1/audit?subject=$DESK" "$ADMIN"
t_status "the administrator reads the audit trail of one person" 200
t_eq "the ticket's audit row (intake) names the desk user and their display name" \
    "intake $DESK Wang Fang $RUN" \
    "$(jbody "[.entries[] | select(.entity_id == \"$TICKET\") | .service + \" \" + .subject + \" \" + .display_name] | first")"
t_eq "every row is the desk user's" "$DESK" "$(jbody '[.entries[].subject] | unique | join(",")')"
http GET "/v1/audit?subject=$MGR&since=$(date -u -d '-1 hour' +%FT%TZ)" "$MGR_S"
t_status "the region manager reads its region's audit trail" 200
t_match "it holds the manager's own acts (people: open_center)" "open_center" "$(jbody '[.entries[].action] | join(",")')"
http GET "/v1/audit?subject=desk.sh01" "$MGR_S"
t_eq "but not another region's people" 0 "$(jbody '.entries | length')"
http GET "/v1/audit?since=$(date -u -d '+1 hour' +%FT%TZ)" "$ADMIN"
t_eq "a time window in the future holds nothing" 0 "$(jbody '.entries | length')"
http GET "/v1/audit?since=yesterday" "$ADMIN"
t_status "a malformed time is 400" 400
http GET /v1/audit "$DESK_S"
t_status "a desk user may not read the audit trail" 403

# --- revocation: at once ---
http DELETE "/v1/auth/tokens/$TOKEN_ID" "$DESK_S"
t_status "the desk user revokes the token" 200
http GET /v1/auth/me "$TOKEN"
t_status "the revoked token is refused at once" 401
http GET /v1/tickets "$TOKEN"
t_status "...on every route" 401

# --- disabling: the session ends at once ---
http GET /v1/auth/me "$DESK_S"
t_status "the desk session works before" 200
http PATCH "/v1/users/$DESK" "$MGR_S" '{"active":false}'
t_status "the region manager disables the desk user" 200
http GET /v1/auth/me "$DESK_S"
t_status "the disabled user's session is refused at once" 401
login "$DESK" "$PW_DESK"
t_status "a disabled user cannot sign in" 401
http PATCH "/v1/users/$DESK" "$ADMIN" '{"active":true}'
t_status "the administrator enables the user again" 200

# --- CSRF on cookie sessions ---
http POST /v1/regions "" "{\"code\":\"c$RUN\",\"name\":\"x\"}" -H "Cookie: as_session=$ADMIN"
t_status "a cookie POST without X-CSRF-Token is 403" 403
t_eq "code csrf" csrf "$(jbody .error.code)"
login "$AS_ADMIN_LOGIN" "$AS_ADMIN_PASSWORD"
http POST /v1/regions "" "{\"code\":\"c$RUN\",\"name\":\"x\"}" -H "Cookie: as_session=$SESSION" -H "X-CSRF-Token: $CSRF"
t_status "a cookie POST with the session's X-CSRF-Token is served" 201
http GET /v1/auth/me "" "" -H "Cookie: as_session=$SESSION"
t_status "a cookie GET needs no CSRF token" 200

# --- passwords: change own, failures slow down and lock, an admin reset unlocks ---
http POST /v1/auth/password "$MGR_S" "{\"old_password\":\"wrong-$RUN\",\"new_password\":\"New-mgr-pass-$RUN\"}"
t_status "a wrong old password is refused" 403
http POST /v1/auth/password "$MGR_S" "{\"old_password\":\"$PW_MGR\",\"new_password\":\"short\"}"
t_status "a weak new password is 422" 422
http POST /v1/auth/password "$MGR_S" "{\"old_password\":\"$PW_MGR\",\"new_password\":\"New-mgr-pass-$RUN\"}"
t_status "the manager changes its password" 200
login "$MGR" "$PW_MGR"
t_status "the old password no longer signs in" 401
login "$MGR" "New-mgr-pass-$RUN"
t_status "the new one does" 200
statuses=""
for i in 1 2 3 4 5 6; do
    login "$MGR" "bad-guess-$i"
    statuses+="$HTTP_STATUS "
done
t_eq "after five failures in a row the next try must wait" "401 401 401 401 401 429 " "$statuses"
t_match "the answer says how long" "try again in [0-9]+ s" "$(jbody .error.message)"
login "$MGR" "New-mgr-pass-$RUN"
t_status "even the right password waits" 429
http POST "/v1/users/$MGR/password" "$ADMIN" "{\"password\":\"Reset-mgr-pass-$RUN\"}"
t_status "the administrator resets the password (and unlocks)" 200
login "$MGR" "Reset-mgr-pass-$RUN"
t_status "the manager signs in with the new password" 200
http GET /v1/auth/me "$MGR_S"
t_status "the reset ended the manager's earlier session" 401

# --- the demo tokens and the bootstrap tokens file keep working ---
http GET /v1/auth/me "$AS_TOKEN_CENTER"
t_eq "a tokens-file principal is a service account" "service desk.sh01" "$(jbody '.auth + " " + .login')"
login "$AS_CENTER_LOGIN" "$AS_CENTER_PASSWORD"
t_status "the demo desk user signs in with the password in the env file" 200
http GET /v1/auth/me "" ""
t_status "no credentials: 401" 401
http POST /v1/auth/login "" '{"login":"nobody","password":"x"}'
t_status "an unknown login is 401" 401
# The gateway follows the people stream (revocations reach every gateway at once): under CURVE
# its key must be let in, not refused as a stranger.
if grep -q 'subscription refused.*name=gateway stream=people' "$AS_VAR/log/people.log"; then
    t_fail "the gateway's subscription to the people stream is accepted" \
        "$(grep -m1 'subscription refused.*name=gateway' "$AS_VAR/log/people.log")"
else
    t_ok "the gateway's subscription to the people stream is accepted"
fi
t_done
