#!/usr/bin/env bash
# notify: the event feed as Server-Sent Events (issue 20.1; docs/notify.md "The pull feed").
# GET /v1/events with Accept: text/event-stream streams the feed from the cursor: events created
# while the stream is open arrive as `id: <position>` / `event: <type>` / `data: <event>`;
# reconnecting with Last-Event-ID resumes after that event, without loss and without repeats;
# an idle stream sends heartbeat comments; the streams are scoped like the pull feed (another
# centre sees none of these tickets) and capped per principal (429 beyond three at once); a
# revoked token's stream is ended; the plain feed without the header is unchanged.
. "$(dirname "$0")/../lib.sh"

DIR=$AS_VAR/notify-sse
rm -rf "$DIR"
mkdir -p "$DIR"
RUN=$RANDOM$RANDOM
HEAD=$(q notify "SELECT coalesce(max(position), 0) FROM events")

stream() { # OUT SECONDS TOKEN QUERY [curl args...] — a background stream into OUT (headers OUT.h)
    local out=$1 secs=$2 token=$3 query=$4
    shift 4
    curl -sN --max-time "$secs" -D "$out.h" -H "Authorization: Bearer $token" \
        -H 'Accept: text/event-stream' "$@" "$AS_GATEWAY_URL/v1/events?$query" >"$out" 2>/dev/null &
}
open_ticket() { # -> TICKET
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$(new_imei)" \
        --arg ph "1350$(printf '%07d' $(((RUN + $1) % 10000000)))" --arg inv "$(days_ago 40)" '{
      customer: {name: "Stream Test", phone: $ph},
      device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
      purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
      fault: {code: "NO_POWER", listed: true}, request: "repair"}')"
    TICKET=$(jbody .id)
}
# ids OUT — "position ticket_id" of each event in a stream's output
ids() {
    awk '/^id: /{id=$2} /^data: /{sub(/^data: /, ""); print id "\t" $0}' "$1" |
        while IFS=$'\t' read -r id data; do
            printf '%s %s\n' "$id" "$(jq -r '.data.ticket_id // "-"' <<<"$data")"
        done
}

# --- an idle stream: heartbeats (in the background for the whole test) -------------------------
stream "$DIR/idle" 20 "$AS_TOKEN_ADMIN" "after=$HEAD&type=none.Never"
IDLE=$!
# --- another centre's streams: the scope, and the cap per principal ------------------------------
stream "$DIR/b1" 9 "$AS_TOKEN_CENTER_B" "after=$HEAD&type=intake.TicketOpened"
B1=$!
stream "$DIR/b2" 9 "$AS_TOKEN_CENTER_B" "after=$HEAD&type=intake.TicketOpened"
B2=$!
stream "$DIR/b3" 9 "$AS_TOKEN_CENTER_B" "after=$HEAD&type=intake.TicketOpened"
B3=$!
# --- the stream: events created while it is open ------------------------------------------------
stream "$DIR/one" 8 "$AS_TOKEN_ADMIN" "after=$HEAD&type=intake.TicketOpened"
ONE=$!
sleep 1.5
code=$(curl -s -o "$DIR/fourth" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $AS_TOKEN_CENTER_B" \
    -H 'Accept: text/event-stream' "$AS_GATEWAY_URL/v1/events?after=$HEAD")
t_eq "a fourth stream of the same principal is refused" 429 "$code"
t_eq "... saying why" too_many_streams "$(jq -r .error.code "$DIR/fourth")"

open_ticket 1
T1=$TICKET
open_ticket 2
T2=$TICKET
wait "$ONE"
t_match "the answer is an event stream" '[Cc]ontent-[Tt]ype: text/event-stream' "$(cat "$DIR/one.h")"
t_match "it tells the client how long to wait before reconnecting" '^retry: [0-9]+' "$(cat "$DIR/one")"
got=$(ids "$DIR/one")
t_eq "the events created during the stream arrive, in order" "$T1 $T2" \
    "$(awk -v a="$T1" -v b="$T2" '$2 == a || $2 == b {print $2}' <<<"$got" | paste -sd' ')"
t_eq "each event's id is its feed position" "$(q notify "SELECT position FROM events WHERE type = 'intake.TicketOpened' AND payload->>'ticket_id' = '$T1'")" \
    "$(awk -v a="$T1" '$2 == a {print $1}' <<<"$got")"
t_match "the event's type is the SSE event name" "event: intake.TicketOpened" "$(cat "$DIR/one")"
t_eq "the data is the feed's event object" "intake intake.TicketOpened $T1" \
    "$(sed -n 's/^data: //p' "$DIR/one" | jq -r "select(.data.ticket_id == \"$T1\") | .stream + \" \" + .type + \" \" + .data.ticket_id")"
t_eq "ids only grow" "$(awk '{print $1}' <<<"$got" | sort -n | paste -sd' ')" "$(awk '{print $1}' <<<"$got" | paste -sd' ')"

# --- reconnect with Last-Event-ID: no loss, no repeat ------------------------------------------
LAST=$(awk -v a="$T1" '$2 == a {print $1}' <<<"$got")
open_ticket 3
T3=$TICKET
stream "$DIR/two" 5 "$AS_TOKEN_ADMIN" "after=0&type=intake.TicketOpened" -H "Last-Event-ID: $LAST"
wait $!
again=$(ids "$DIR/two")
t_eq "resumed after the last event seen: the next ones, once each" "$T2 $T3" \
    "$(awk -v a="$T1" -v b="$T2" -v c="$T3" '$2 == a || $2 == b || $2 == c {print $2}' <<<"$again" | paste -sd' ')"
t_eq "nothing at or before Last-Event-ID is sent again" 0 "$(awk -v l="$LAST" '$1 <= l' <<<"$again" | wc -l)"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $AS_TOKEN_ADMIN" \
    -H 'Accept: text/event-stream' -H 'Last-Event-ID: abc' "$AS_GATEWAY_URL/v1/events")
t_eq "a Last-Event-ID that is not a position is 400" 400 "$code"
http GET "/v1/events?after=$HEAD&type=intake.TicketOpened&limit=1000" "$AS_TOKEN_ADMIN"
t_status "without the header the feed is the plain JSON page" 200
t_jq "... with the same events" "[.events[].data.ticket_id | select(. == \"$T1\" or . == \"$T2\" or . == \"$T3\")] | join(\" \")" "$T1 $T2 $T3"

# --- scope, the cap released, heartbeats -------------------------------------------------------
wait "$B1" "$B2" "$B3"
t_eq "another centre's stream shows none of these tickets" 0 \
    "$(cat "$DIR/b1" "$DIR/b2" "$DIR/b3" | grep -c -e "$T1" -e "$T2" -e "$T3")"
t_match "its streams were open (retry line)" '^retry:' "$(head -1 "$DIR/b1")"
t_eq "closed streams free their places (a new one starts: curl ends it at its time limit, 28)" 28 "$(curl -s -o /dev/null --max-time 2 \
    -H "Authorization: Bearer $AS_TOKEN_CENTER_B" -H 'Accept: text/event-stream' \
    "$AS_GATEWAY_URL/v1/events?after=$HEAD"; echo $?)"
# --- a revoked token ends its streams ------------------------------------------------------------
http POST /v1/auth/login "" "{\"login\":\"$AS_CENTER_LOGIN\",\"password\":\"$AS_CENTER_PASSWORD\"}"
S=$(jbody .session_token)
http POST /v1/auth/tokens "$S" "{\"name\":\"sse-$RUN\",\"expires_in_days\":1}"
t_status "a desk user makes a personal token" 201
TOK=$(jbody .token)
TID=$(jbody .id)
stream "$DIR/rev" 15 "$TOK" "after=$HEAD&type=none.Never"
REV=$!
sleep 1.5
http DELETE "/v1/auth/tokens/$TID" "$S"
t_status "the token is revoked" 200
wait "$REV"
t_eq "its open stream is ended by the gateway (curl sees a complete answer, not its time limit)" 0 $?
t_match "... after it had started" '^retry:' "$(head -1 "$DIR/rev")"

wait "$IDLE"
t_match "an idle stream sends heartbeat comments" '^: heartbeat' "$(grep '^: heartbeat' "$DIR/idle" | head -1)"
t_eq "... and no event" 0 "$(grep -c '^data:' "$DIR/idle")"

t_done
