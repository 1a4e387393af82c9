#!/usr/bin/env bash
# Surveys: personal data, the rule intake follows. Lists of callbacks and complaints (due list,
# complaint list, overdue list) show the customer's phone in full only to admin and the centre
# desks, masked to every other role that may read them; reading one full callback or complaint
# writes exactly one audit row per read, also when the same Idempotency-Key is sent again (reads
# are never kept as command replies); the replies of state changes are masked for a regional
# manager. The roles checked are those the gateway's route table allows on each route.
# Everything here is this run's own: a fresh ticket id, a fresh phone number.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"
. "$(dirname "$0")/../../services/surveys/tests/lib.sh"

RUN=$RANDOM$RANDOM
PHONE=135$(printf '%08d' $((RUN % 100000000)))
MASKED="*******${PHONE: -4}"
declare -A TOKEN=([admin]=$AS_TOKEN_ADMIN [region]=$AS_TOKEN_REGION [center]=$AS_TOKEN_CENTER
    [warehouse]=$AS_TOKEN_WAREHOUSE [finance]=$AS_TOKEN_FINANCE [reviewer]=$AS_TOKEN_REVIEWER)
ROUTES=$(api_routes)

# roles_of METHOD PATH — the roles the gateway lets call this route, space-separated.
roles_of() {
    awk -F'\t' -v m="$1" -v p="$2" '$1 == m && $2 == p { gsub(",", " ", $3); print $3 }' <<<"$ROUTES"
}
# sees_full ROLE — the roles that call customers, who see phones in full in lists.
sees_full() { [ "$1" = admin ] || [ "$1" = center ]; }

# check_list ROLE WHAT JQ_PHONES — the last answer is a list in which this run's record shows
# the phone in full (admin, center) or masked (everyone else), and, masked, nowhere in full.
check_list() {
    local role=$1 what=$2 phones
    if [ "$HTTP_STATUS" != 200 ]; then
        t_fail "$role lists $what" "HTTP $HTTP_STATUS: ${HTTP_BODY:0:300}"
        return
    fi
    phones=$(jbody "$3")
    if sees_full "$role"; then
        t_eq "the $what show $role the customer's phone in full" "$PHONE" "$phones"
    else
        t_eq "the $what mask the customer's phone for $role" "$MASKED" "$phones"
        if [[ $HTTP_BODY == *"$PHONE"* ]]; then
            t_fail "the full phone appears nowhere in $role's $what" "found $PHONE in the body"
        else
            t_ok "the full phone appears nowhere in $role's $what"
        fi
    fi
}

# reads ENTITY ID — audit rows of full reads of one record.
reads() {
    sv_sql "SELECT count(*) FROM audit WHERE action = 'read' AND entity = '$1' AND entity_id = '$2'"
}

# --- fixtures: a callback and a complaint of this run's customer at SH01 ----------------------

ticket=$(sv_new_id TSVP)
ev=$(jq -nc --arg t "$ticket" --arg p "$PHONE" '{ticket_id: $t, center: "SH01", region: "east",
    outcome: "repaired", customer: {name: "Privacy Test", phone: $p}, category: "phone_host",
    brand: "Huaxin", closed_at: "2020-01-02T02:00:00.000Z"}')
sv_sql "SELECT on_ticket_closed('$ev'::jsonb)" >/dev/null
cb=$(sv_sql "SELECT id FROM callbacks WHERE ticket_id = '$ticket'")
t_match "fixture: a callback is scheduled for the ticket" '^CB[0-9]+$' "$cb"

http POST /v1/complaints "$AS_TOKEN_CENTER" "$(jq -nc --arg t "$ticket" --arg p "$PHONE" '{
    channel: "phone", cause: "attitude", description: "privacy test", ticket_id: $t,
    customer_name: "Privacy Test", customer_phone: $p}')"
t_status "fixture: SH01's desk opens a complaint" 201
cid=$(jbody .id)
t_jq "the desk that took the complaint sees the phone it typed" .customer_phone "$PHONE"
# Overdue without waiting: its acknowledge deadline lies in the past (the timer acts on
# next_check_at, which stays, so nothing escalates meanwhile).
sv_sql "UPDATE complaint_deadlines SET due_at = '2020-01-01T00:00:00Z'
        WHERE complaint_id = '$cid' AND kind = 'acknowledge'" >/dev/null

# --- lists: full for admin and center, masked for the others ---------------------------------

today=$(TZ=Asia/Shanghai date +%F)
n=0
for role in $(roles_of GET /v1/surveys/due); do
    n=$((n + 1))
    http GET "/v1/surveys/due?date=$today&center=SH01&limit=500" "${TOKEN[$role]}" "" \
        -H "Idempotency-Key: privacy-read-$RUN-$n"
    check_list "$role" "due callbacks" "[.callbacks[] | select(.id == \"$cb\") | .customer_phone] | join(\",\")"
done
for role in $(roles_of GET /v1/complaints); do
    n=$((n + 1))
    http GET "/v1/complaints?ticket_id=$ticket" "${TOKEN[$role]}" "" -H "Idempotency-Key: privacy-read-$RUN-$n"
    check_list "$role" "complaint lists" "[.complaints[] | select(.id == \"$cid\") | .customer_phone] | join(\",\")"
done
for role in $(roles_of GET /v1/complaints/overdue); do
    n=$((n + 1))
    http GET "/v1/complaints/overdue?center=SH01&limit=500" "${TOKEN[$role]}" "" \
        -H "Idempotency-Key: privacy-read-$RUN-$n"
    check_list "$role" "overdue lists" "[.complaints[] | select(.id == \"$cid\") | .customer_phone] | join(\",\")"
done
t_eq "the lists wrote no read audit rows" "0 0" "$(reads callback "$cb") $(reads complaint "$cid")"

# Reports are counts per key: no customer data to mask.
for path in "/v1/reports/complaints?group=center" "/v1/reports/satisfaction?group=center&from=2020-01-01&to=2020-01-31"; do
    http GET "$path" "$AS_TOKEN_REVIEWER"
    if [ "$HTTP_STATUS" = 200 ] && [[ $HTTP_BODY != *"$PHONE"* ]] && [[ $HTTP_BODY != *customer* ]]; then
        t_ok "the report ${path%%\?*} carries no phone numbers"
    else
        t_fail "the report ${path%%\?*} carries no phone numbers" "HTTP $HTTP_STATUS: ${HTTP_BODY:0:300}"
    fi
done

# --- one full record: every allowed role reads it, and every read is audited ------------------

for kind in callback complaint; do
    if [ "$kind" = callback ]; then
        path=/v1/surveys/callbacks/$cb id=$cb route="/v1/surveys/callbacks/{id}"
    else
        path=/v1/complaints/$cid id=$cid route="/v1/complaints/{id}"
    fi
    roles=$(roles_of GET "$route")
    for role in $roles; do
        before=$(reads "$kind" "$id")
        n=$((n + 1))
        http GET "$path" "${TOKEN[$role]}" "" -H "Idempotency-Key: privacy-read-$RUN-$n"
        t_status "$role reads the full $kind" 200
        t_jq "the full $kind shows $role the customer" '.customer_name + " " + .customer_phone' \
            "Privacy Test $PHONE"
        t_eq "$role's read of the $kind writes exactly one audit row" 1 $(($(reads "$kind" "$id") - before))
        t_eq "the audit row names $role's principal and marks the customer data" \
            "$role true" "$(sv_sql "SELECT principal->>'role', detail->>'customer' FROM audit
                WHERE action = 'read' AND entity = '$kind' AND entity_id = '$id' ORDER BY id DESC LIMIT 1" |
                tr '|' ' ')"
        # The same request again, same Idempotency-Key: read again, audited again.
        http GET "$path" "${TOKEN[$role]}" "" -H "Idempotency-Key: privacy-read-$RUN-$n"
        t_status "$role reads the $kind again with the same Idempotency-Key" 200
        t_eq "the repeated read of the $kind by $role writes another audit row" 2 \
            $(($(reads "$kind" "$id") - before))
    done
    before=$(reads "$kind" "$id")
    http GET "$path" "$AS_TOKEN_CENTER_B"
    t_status "another centre's desk gets 404 for the $kind" 404
    t_eq "a refused read of the $kind writes no audit row" 0 $(($(reads "$kind" "$id") - before))
done
t_eq "no read (list or full record) was kept as a command reply" 0 \
    "$(sv_sql "SELECT count(*) FROM commands WHERE request_id LIKE '%:privacy-read-$RUN-%'")"

# --- state changes: the desk's reply in full, a regional manager's masked ---------------------

# mutation_check ROLE WHAT — the last answer of a state change, as ROLE may see it.
mutation_check() {
    if [ "$HTTP_STATUS" != 200 ] && [ "$HTTP_STATUS" != 201 ]; then
        t_fail "$1 $2" "HTTP $HTTP_STATUS: ${HTTP_BODY:0:300}"
    elif sees_full "$1"; then
        t_jq "$1 $2 and the reply shows the phone in full" .customer_phone "$PHONE"
    elif [[ $HTTP_BODY == *"$PHONE"* ]]; then
        t_fail "$1 $2 and the reply masks the phone" "found $PHONE in the body"
    else
        t_jq "$1 $2 and the reply masks the phone" .customer_phone "$MASKED"
    fi
}
http POST "/v1/surveys/callbacks/$cb/unreachable" "$AS_TOKEN_REGION" '{"note":"privacy test"}'
mutation_check region "marks the callback unreachable"
http POST "/v1/surveys/callbacks/$cb/unreachable" "$AS_TOKEN_CENTER" '{"note":"privacy test"}'
mutation_check center "marks the callback unreachable"
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_REGION" '{"note":"privacy test"}' \
    -H "Idempotency-Key: privacy-ack-$RUN"
mutation_check region "acknowledges the complaint"
http POST "/v1/complaints/$cid/acknowledge" "$AS_TOKEN_REGION" '{"note":"privacy test"}' \
    -H "Idempotency-Key: privacy-ack-$RUN"
mutation_check region "retries the acknowledgement (the stored reply)"
http POST "/v1/complaints/$cid/resolve" "$AS_TOKEN_CENTER" '{"resolution":"apologised"}'
mutation_check center "resolves the complaint"
http POST /v1/complaints "$AS_TOKEN_REGION" "$(jq -nc --arg t "$ticket" --arg p "$PHONE" '{
    channel: "walk_in", cause: "price", description: "privacy test", center: "SH01",
    ticket_id: $t, customer_name: "Privacy Test", customer_phone: $p}')"
mutation_check region "opens a complaint"
t_eq "the stored complaint keeps the full phone" "$PHONE" \
    "$(sv_sql "SELECT customer_phone FROM complaints WHERE id = '$(jbody .id)'")"

t_done
