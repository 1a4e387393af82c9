#!/usr/bin/env bash
# The runtime's command batch (common/sql/004_hot_path.sql): exec_batch() runs the commands of a
# group commit in segments, one subtransaction for as many as succeed. These checks call it the
# way the server does (one SQL call, a JSON array of commands) in intake's schema, inside a
# transaction that is rolled back at the end, so nothing stays behind on the shared stack:
#   - a failing command in the middle gets its error; the commands before and after it are
#     applied and stored for replay, each exactly once; the failing one leaves no trace, even
#     when it wrote rows before raising;
#   - a request id repeated inside the batch gets the first reply, marked replayed;
#   - the same batch again answers every command from the store and changes nothing;
#   - the dispatcher lists the schema's command functions, and an unknown function is an error
#     for that command only.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# q SQL — run SQL (several statements; one transaction, rolled back) as the intake role.
q() { sql intake "$1"; } # as the intake service, errors shown
RUN=rb$RANDOM$RANDOM
P='{"role": "admin", "subject": "runtime-batch"}'
open_args() { # IMEI-less ticket (no device history): centre SH01
    printf '{"center": "SH01", "customer": {"name": "Batch Test", "phone": "1380000%04d"}, "device": {"category": "phone_accessory", "brand": "Huaxin", "model": "HX-C1", "serial": "%s-%s"}, "purchase": {"date": "2026-11-01", "price_cents": 9900}, "fault": {"code": "ACC-01", "description": "does not charge"}, "request": "repair", "claim_date": "2026-11-20"}' "$1" "$RUN" "$1"
}
A=$(open_args 1)
C=$(open_args 3)
BATCH=$(jq -nc --arg run "$RUN" --argjson p "$P" --argjson a "$A" --argjson c "$C" '[
  {r: ($run + "-a"), f: "cmd_open_ticket", p: $p, a: $a},
  {r: ($run + "-x"), f: "cmd_runtime_batch_fails", p: $p, a: {}},
  {r: ($run + "-a"), f: "cmd_open_ticket", p: $p, a: $a},
  {r: ($run + "-g"), f: "cmd_get_ticket", p: $p, a: {id: "T-none"}},
  {r: ($run + "-c"), f: "cmd_open_ticket", p: $p, a: $c},
  {r: ($run + "-u"), f: "cmd_no_such_function", p: $p, a: {}}
]')

out=$(q "BEGIN;
-- A command that writes (an audit row) and then raises.
CREATE FUNCTION cmd_runtime_batch_fails(p_req text, p_principal jsonb, a jsonb) RETURNS jsonb
LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM audit_write(p_principal, p_req, 'half-done', 'test', '$RUN', '{}');
    PERFORM fail(409, 'test_conflict', 'this command always fails after writing');
    RETURN NULL;
END \$\$;
CREATE TABLE runtime_batch_r1 AS SELECT exec_batch('$BATCH') AS r;
SELECT 'first ' || r::text FROM runtime_batch_r1;
SELECT 'tickets ' || count(*) FROM tickets WHERE device->>'serial' LIKE '$RUN-%';
SELECT 'stored ' || count(*) FROM commands WHERE request_id LIKE '$RUN-%';
SELECT 'halfdone ' || count(*) FROM audit WHERE entity_id = '$RUN';
SELECT 'opened-audit ' || count(*) FROM audit WHERE action = 'open' AND request_id LIKE '$RUN-%';
SELECT 'events ' || count(*) FROM outbox WHERE request_id LIKE '$RUN-%';
SELECT 'second ' || exec_batch('$BATCH')::text;
SELECT 'tickets-after ' || count(*) FROM tickets WHERE device->>'serial' LIKE '$RUN-%';
SELECT 'dispatch ' || (prosrc LIKE '%WHEN ''cmd_open_ticket'' THEN%')::text
    FROM pg_proc WHERE oid = to_regprocedure('dispatch_command(text,text,jsonb,jsonb)');
ROLLBACK;" 2>&1)
if ! grep -q '^first ' <<<"$out"; then
    t_fail "exec_batch ran" "$out"
    t_done
fi
first=$(sed -n 's/^first //p' <<<"$out")
second=$(sed -n 's/^second //p' <<<"$out")
val() { sed -n "s/^$1 //p" <<<"$out"; }

t_eq "six commands get six replies" 6 "$(jq length <<<"$first")"
t_eq "the first open is answered 201" 201 "$(jq '.[0].status' <<<"$first")"
t_eq "the command that fails after writing gets its own error" "AS409 test_conflict" \
    "$(jq -r '.[1].error | .sqlstate + " " + .message' <<<"$first")"
t_eq "the repeated request id gets the first reply, marked replayed" \
    "$(jq -c '.[0].body.id' <<<"$first") true" "$(jq -c '.[2].body.id, .[2].replayed' <<<"$first" | paste -sd' ')"
t_eq "the read of a missing ticket gets 404 and the batch goes on" "AS404" "$(jq -r '.[3].error.sqlstate' <<<"$first")"
t_eq "the open after the failures is answered 201" 201 "$(jq '.[4].status' <<<"$first")"
t_eq "the two opens are different tickets" true "$(jq '.[0].body.id != .[4].body.id' <<<"$first")"
t_eq "an unknown command function is an error for that command only" "42883" \
    "$(jq -r '.[5].error.sqlstate' <<<"$first")"
t_eq "exactly two tickets exist" 2 "$(val tickets)"
t_eq "exactly the two opens are stored for replay (not the errors)" 2 "$(val stored)"
t_eq "the failing command's own write was rolled back" 0 "$(val halfdone)"
t_eq "one audit row per open" 2 "$(val opened-audit)"
t_eq "one TicketOpened event per open" 2 "$(val events)"
t_eq "the same batch again: both opens are replayed with the stored tickets" \
    "$(jq -c '[.[0].body.id, .[4].body.id]' <<<"$first") true true" \
    "$(jq -c '[.[0].body.id, .[4].body.id]' <<<"$second") $(jq -c '.[0].replayed, .[4].replayed' <<<"$second" | paste -sd' ')"
t_eq "the same batch again opens nothing" 2 "$(val tickets-after)"
t_eq "the dispatcher lists intake's command functions" true "$(val dispatch)"
t_done
