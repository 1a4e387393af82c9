#!/usr/bin/env bash
# notify: once-only delivery across kill -9. A slow receiver (0.2 s per answer) is being sent
# SH01's new tickets when as-notify is killed with SIGKILL; more tickets open while it is down;
# after the restart every event reaches the receiver, each recorded as delivered exactly once
# (one acknowledged attempt per delivery), and the receiver, deduplicating by Event-Id as the
# docs tell it to, has each event exactly once — at most the one delivery in flight at the kill
# arrives twice on the wire. Nothing acknowledged is lost or delivered again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../../services/notify/tests/lib.sh"

RUN=$RANDOM$RANDOM
PHONE=135$(printf '%08d' $((RUN % 100000000)))
N1=12
N2=8

t_check "notify runs with loopback receivers allowed" nt_restart
nt_sink_start
echo 0.2 >"$NT_DIR/delay_kill-$RUN"
nt_hook "kill-$RUN" '["intake.TicketOpened"]' '. + {role: "center", center: "SH01"}'
t_status "a webhook for SH01's new tickets" 201
HOOK=$HOOK_ID

# Paused while the tickets open, so that the kill comes in the middle of the stream.
http POST "/v1/webhooks/$HOOK/pause" "$AS_TOKEN_ADMIN" '{}'
tickets=()
for i in $(seq 1 $N1); do
    nt_ticket "$AS_TOKEN_CENTER" "$PHONE"
    tickets+=("$TICKET")
done
t_eq "$N1 tickets opened" "$N1" "${#tickets[@]}"
for i in $(seq 1 100); do
    [ "$(nt_sql "SELECT count(*) FROM deliveries WHERE webhook_id = '$HOOK'")" = "$N1" ] && break
    sleep 0.2
done
http POST "/v1/webhooks/$HOOK/resume" "$AS_TOKEN_ADMIN" '{}'
t_check "the receiver has started getting them" nt_wait_count "kill-$RUN" 'true' 3
got_before=$(nt_received "kill-$RUN" | wc -l)
NT_KILL=1
pid=$(cat "$AS_VAR/run/notify.pid")
kill -KILL "$pid"
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
t_ok "as-notify killed with SIGKILL after $got_before deliveries"
for i in $(seq 1 $N2); do
    nt_ticket "$AS_TOKEN_CENTER" "$PHONE"
    tickets+=("$TICKET")
done
t_eq "$N2 more tickets opened while notify is down" $((N1 + N2)) "${#tickets[@]}"
NT_KILL=0
t_check "notify starts again" nt_restart

mine=$(printf '"%s",' "${tickets[@]}")
mine="[${mine%,}]"
sel="(.body.data.ticket_id as \$t | $mine | index(\$t)) != null and .status == 200"
t_check "every ticket's TicketOpened reaches the receiver" nt_wait_count "kill-$RUN" "$sel" $((N1 + N2))
sleep 1
distinct=$(nt_received "kill-$RUN" "select($sel) | .event_id" | sort -u | wc -l)
total=$(nt_received "kill-$RUN" "select($sel) | .event_id" | wc -l)
t_eq "deduplicated by Event-Id, the receiver has each event exactly once" $((N1 + N2)) "$distinct"
t_check "at most the one delivery in flight at the kill came twice on the wire ($total for $distinct)" \
    test $((total - distinct)) -le 1
t_check "the kill came before the end of the stream ($got_before of $N1 received)" test "$got_before" -lt "$N1"
t_eq "every delivery is recorded delivered, once" "$((N1 + N2)) delivered" \
    "$(nt_sql "SELECT count(*) || ' ' || string_agg(DISTINCT state, ',') FROM deliveries WHERE webhook_id = '$HOOK'")"
t_eq "each with exactly one acknowledged attempt" 0 \
    "$(nt_sql "SELECT count(*) FROM (SELECT a.delivery_id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
               WHERE d.webhook_id = '$HOOK' AND a.status BETWEEN 200 AND 299 GROUP BY 1 HAVING count(*) <> 1) x")"
t_eq "the receiver saw them in sequence order" \
    "$(nt_received "kill-$RUN" "select($sel) | .body.sequence" | sort -n | uniq | tr '\n' ' ')" \
    "$(nt_received "kill-$RUN" "select($sel) | .body.sequence" | uniq | tr '\n' ' ')"
t_eq "the feed holds each event once" $((N1 + N2)) \
    "$(nt_sql "SELECT count(*) FROM events WHERE type = 'intake.TicketOpened' AND payload->>'ticket_id' = ANY (ARRAY[$(printf "'%s'," "${tickets[@]}" | sed 's/,$//')])")"
http DELETE "/v1/webhooks/$HOOK" "$AS_TOKEN_ADMIN"
t_done
