#!/usr/bin/env bash
# people under a sign-in storm: hundreds of sign-ins at once (each an Argon2id check on the
# people service's worker threads, at most hash_workers at a time, a bounded queue, 503 beyond
# it) while other users' requests — new personal tokens the gateway has never seen, so each is
# resolved by the people service, and ordinary reads — are all served. Behaviour only: every
# other request answers 200, every sign-in answers 401 or 503, the service stays healthy.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
http POST /v1/auth/login "" "{\"login\":\"$AS_CENTER_LOGIN\",\"password\":\"$AS_CENTER_PASSWORD\"}"
t_status "the demo desk signs in" 200
S=$(jbody .session_token)
TOKENS=()
for i in $(seq 1 20); do
    http POST /v1/auth/tokens "$S" "{\"name\":\"storm-$RUN-$i\",\"expires_in_days\":1}"
    TOKENS+=("$(jbody .token)")
done
t_eq "20 fresh personal tokens, none used yet" 20 "$(printf '%s\n' "${TOKENS[@]}" | grep -c '^[0-9a-f]\{64\}$')"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The storm: 200 sign-ins with wrong passwords for unknown names (each still costs a hash), 48
# at a time.
seq 1 200 | xargs -P 48 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
    -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"login\":\"storm.$RUN.{}\",\"password\":\"not-the-password-{}\"}" \
    "$AS_GATEWAY_URL/v1/auth/login" >"$dir/storm" &
storm=$!
sleep 0.3
# Meanwhile: each fresh token once (the gateway must ask the people service), and reads.
for t in "${TOKENS[@]}"; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $t" \
        "$AS_GATEWAY_URL/v1/auth/me" >>"$dir/others"
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $t" \
        "$AS_GATEWAY_URL/v1/centers?region=east" >>"$dir/others"
done
storm_running=0
kill -0 "$storm" 2>/dev/null && storm_running=1
wait "$storm"
t_eq "every other user's request during the storm is served (40 x 200)" "40 200" \
    "$(sort "$dir/others" | uniq -c | awk '{ print $1 " " $2 }' | paste -sd' ')"
t_note "the storm was still running when the other requests were done: $storm_running"
bad=$(grep -cv '^\(401\|503\)$' "$dir/storm" || true)
t_eq "every sign-in of the storm answers 401 (wrong) or 503 (too many at once)" 0 "$bad"
t_note "storm answers: $(sort "$dir/storm" | uniq -c | paste -sd' ')"
t_eq "all 200 answered" 200 "$(wc -l <"$dir/storm" | tr -d ' ')"
http GET /healthz
t_status "the stack is healthy after the storm" 200
http POST /v1/auth/login "" "{\"login\":\"$AS_CENTER_LOGIN\",\"password\":\"$AS_CENTER_PASSWORD\"}"
t_status "a right password signs in after the storm" 200
t_done
