#!/usr/bin/env bash
# tests/fuzz/make-corpus.sh — regenerate the seed corpus in tests/fuzz/corpus/<target>/.
#
#   make fuzz-corpus        (builds the helper, then runs this)
#
# Seeds are realistic inputs, not random bytes: the requests the integration tests send, the
# golden warranty cases (tests/warranty/cases.jsonl), every message type of the registry with
# every field set (built from the descriptors by corpus_pack, so new .proto messages get seeds
# when this is re-run), envelopes, replies and replay batches packed exactly as the services
# pack them, and HTTP requests for every route in services/gateway/routes_*.c.
# The old seeds of each target are replaced. Needs: bash, base64 (coreutils), the helper
# $AS_BUILD/fuzz/bin/corpus_pack.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
AS_BUILD=${AS_BUILD:-build}
PACK=${CORPUS_PACK:-$AS_BUILD/fuzz/bin/corpus_pack}
OUT=tests/fuzz/corpus
[ -x "$PACK" ] || { echo "make-corpus: $PACK missing (run: make fuzz-build)" >&2; exit 1; }

fresh() { rm -rf "${OUT:?}/$1" && mkdir -p "$OUT/$1"; }
b64() { base64 -w0; }
# pack TYPE JSON — the packed message on stdout.
pack() { printf '%s' "$2" | "$PACK" pack "$1"; }

# ---- realistic commands (the shapes tests/integration/*.sh send) ----------------------------

declare -A CMD
CMD[intake.OpenTicket]='{"center":"SH01","customer":{"name":"Li Lei","phone":"138-0000 1234"},
 "device":{"category":"phone_host","brand":"Huaxin","model":"HX-10","imei":"490154203237518",
 "imei_label":"490154203237518"},"purchase":{"invoice_date":"2025-04-10","price_cents":399900,
 "invoice":true,"warranty_card":true},"fault":{"code":"no_power","listed":true,
 "description":"does not switch on"},"request":"refund","claim_date":"2025-04-17"}'
CMD[intake.Diagnose]='{"id":"T-20250410-0001","fault_code":"NO_POWER","labour_code":"L-BOARD",
 "parts":[{"sku":"HX10-BOARD","qty":1}],"estimate_cents":58000,"promised_date":"2025-04-20"}'
CMD[intake.Consent]='{"id":"T-20250410-0001","accept":true,"note":"customer agrees"}'
CMD[intake.ReviseEstimate]='{"id":"T-20250410-0001","estimate_cents":65000,"note":"the board too"}'
CMD[intake.RequestParts]='{"id":"T-20250410-0001","parts":[{"sku":"HX10-SCREEN","qty":1},
 {"sku":"HX10-BATT","qty":2}]}'
CMD[intake.CompleteRepair]='{"id":"T-20250410-0001","parts_used":[{"sku":"HX10-BOARD","qty":1}],
 "labour_code":"L-BOARD","labour_minutes":45,"cause":"manufacturing_quality"}'
CMD[intake.Handback]='{"id":"T-20250410-0001","note":"customer satisfied"}'
CMD[intake.CancelTicket]='{"id":"T-20250410-0001","reason":"too late"}'
CMD[intake.GetTicket]='{"id":"T-20250410-0001"}'
CMD[intake.ListTickets]='{"center":"SH01","state":"open","from":"2025-04-01","to":"2025-04-30",
 "limit":50}'
CMD[warranty.Evaluate]='{"request":"{\"id\":\"w1\",\"category\":\"phone_host\",\"invoice_date\":\"2025-04-10\",\"claim_date\":\"2025-04-17\",\"price_cents\":399900,\"proofs\":{\"invoice\":true},\"fault\":{\"code\":\"no_power\",\"listed\":true},\"request\":\"refund\"}"}'

OPEN_CAR='{"center":"GZ01","customer":{"name":"Wang Fang","phone":"+86 20 1234 5678"},
 "device":{"category":"car","brand":"DriveCo","model":"DC-3","vin":"LSVAU2180N2183294",
 "odometer_km":1200},"purchase":{"invoice_date":"2025-03-01","delivery_date":"2025-03-03",
 "price_cents":15900000,"invoice":true},"fault":{"code":"brake","car":"brake_failure",
 "assembly":"brakes"},"request":"exchange","use_compensation_rate":"0.005"}'
OPEN_GENERAL='{"center":"SH02","customer":{"name":"Zhao Min","phone":"0571-8888 0000"},
 "device":{"category":"general","general_item":"color_tv","brand":"Huaxin","model":"TV-55",
 "serial":"SN-55-0001"},"purchase":{"invoice_date":"2024-12-31","price_cents":329900,
 "invoice_copy":true},"fault":{"code":"no_picture"},"request":"repair"}'
OPEN_MISMATCH='{"center":"SH01","customer":{"name":"Li Lei","phone":"13800001234"},
 "device":{"category":"phone_host","brand":"Huaxin","model":"HX-10","imei":"490154203237518",
 "imei_label":"356938035643809"},"purchase":{"invoice_date":"2025-01-05","price_cents":100},
 "fault":{"code":"NO_POWER"},"request":"repair","claim_date":"2025-02-01"}'
OPEN_BAD='{"center":"SH01\t","customer":{"name":"","phone":"abc"},"device":{"category":"phone",
 "imei":"490154203237519"},"purchase":{"invoice_date":"2025-02-30","delivery_date":"2024-01-01",
 "price_cents":-1},"fault":{"car":"wheels"},"request":"swap","use_compensation_rate":"0.5"}'

# ---- fuzz_pbjson: JSON text --------------------------------------------------------------------

fresh fuzz_pbjson
for t in "${!CMD[@]}"; do printf '%s\n' "${CMD[$t]}" >"$OUT/fuzz_pbjson/real-$t.json"; done
printf '%s\n' "$OPEN_CAR" >"$OUT/fuzz_pbjson/real-open-car.json"
printf '%s\n' "$OPEN_GENERAL" >"$OUT/fuzz_pbjson/real-open-general.json"
printf '%s\n' "$OPEN_BAD" >"$OUT/fuzz_pbjson/real-open-bad.json"
printf '%s\n' '{"status":"ok","db":true,"version":"1","schema_version":101,"streams":[{"stream":"intake","head":12,"published":12}],"commands":7,"rejected":0}' >"$OUT/fuzz_pbjson/real-health.json"
printf '%s\n' '{"body":"aGVsbG8=","status":201,"replayed":false,"errors":[{"field":"device.imei","problem":"check digit"}]}' >"$OUT/fuzz_pbjson/real-reply.json"
printf '%s\n' '{"version":1,"sequence":9223372036854775807,"deadline_ms":-1,"payload":"","principal":null}' >"$OUT/fuzz_pbjson/edge-ints.json"
while read -r t; do
    "$PACK" sample-json "$t" >"$OUT/fuzz_pbjson/sample-$t.json"
done < <("$PACK" types)

# ---- fuzz_envelope: frames ---------------------------------------------------------------------

fresh fuzz_envelope
PRINCIPAL='{"subject":"desk.sh01","role":"center","site":"SH01","region":"east"}'
# envelope TYPE PAYLOAD_B64 [EXTRA_JSON_FIELDS] — a packed as.Envelope on stdout.
envelope() {
    pack as.Envelope "{\"version\":1,\"type\":\"$1\",\"payload\":\"$2\"${3:+,$3}}"
}
n=0
for t in "${!CMD[@]}"; do
    p=$(pack "$t" "${CMD[$t]}" | b64)
    envelope "$t" "$p" "\"request_id\":\"r-$n\",\"principal\":$PRINCIPAL,\"deadline_ms\":1744272005000,\"trace_id\":\"tr-$n\",\"source\":\"gateway\"" \
        >"$OUT/fuzz_envelope/cmd-$t.bin"
    n=$((n + 1))
done
envelope as.HealthRequest "" '"request_id":"h-1","source":"gateway"' >"$OUT/fuzz_envelope/cmd-health.bin"
envelope as.ReplayRequest "$(pack as.ReplayRequest '{"stream":"intake","from_sequence":1,"max":100}' | b64)" \
    '"request_id":"rp-1","source":"warranty"' >"$OUT/fuzz_envelope/cmd-replay.bin"
# Events, with every field set, as the relay wraps them (those of the list the registry has).
EVENTS=" intake.TicketOpened intake.TicketDiagnosed intake.PartsRequested intake.RepairCompleted
 intake.TicketClosed intake.TicketCancelled warranty.WarrantyDecided parts.PartsReserved
 parts.PartsBackordered parts.PartsIssued parts.PartsReleased parts.DefectiveReturnRecorded
 parts.DefectiveReturnOwed parts.StockBelowSafety parts.TransferShipped parts.TransferReceived "
seq=1
events=()
while read -r t; do
    case $EVENTS in *" $t"[[:space:]]*) ;; *) continue ;; esac
    p=$("$PACK" sample "$t" | b64)
    f="$OUT/fuzz_envelope/event-$t.bin"
    envelope "$t" "$p" "\"stream\":\"${t%%.*}\",\"sequence\":$seq,\"occurred_at_ms\":1744272000000,\"source\":\"${t%%.*}\",\"request_id\":\"e-$seq\"" >"$f"
    events+=("$f")
    seq=$((seq + 1))
done < <("$PACK" types)
# Replies: success with a body, validation failure with field errors, a replay.
ticket=$("$PACK" sample intake.Ticket | b64)
reply_ok=$(pack as.Reply "{\"status\":201,\"body_type\":\"intake.Ticket\",\"body\":\"$ticket\"}" | b64)
reply_400=$(pack as.Reply '{"status":400,"code":"validation","message":"device.imei: check digit does not match (Luhn)","errors":[{"field":"device.imei","problem":"must be 15 digits with a valid check digit (Luhn)"},{"field":"purchase.price_cents","problem":"is required"}]}' | b64)
reply_replayed=$(pack as.Reply "{\"status\":200,\"body_type\":\"intake.Ticket\",\"body\":\"$ticket\",\"replayed\":true}" | b64)
printf '%s' "$reply_ok" | base64 -d >"$OUT/fuzz_envelope/reply-ok.bin"
printf '%s' "$reply_400" | base64 -d >"$OUT/fuzz_envelope/reply-400.bin"
envelope as.Reply "$reply_ok" '"request_id":"r-0","source":"intake"' >"$OUT/fuzz_envelope/env-reply-ok.bin"
envelope as.Reply "$reply_400" '"request_id":"r-1","source":"intake"' >"$OUT/fuzz_envelope/env-reply-400.bin"
envelope as.Reply "$reply_replayed" '"request_id":"r-2","source":"intake"' >"$OUT/fuzz_envelope/env-reply-replayed.bin"
# A replay batch of the first few events, raw and inside a reply inside an envelope.
list=""
for f in "${events[@]:0:4}"; do list+="${list:+,}\"$(b64 <"$f")\""; done
batch=$(pack as.ReplayBatch "{\"stream\":\"intake\",\"events\":[$list],\"head\":${#events[@]}}" | b64)
printf '%s' "$batch" | base64 -d >"$OUT/fuzz_envelope/batch.bin"
reply_batch=$(pack as.Reply "{\"status\":200,\"body_type\":\"as.ReplayBatch\",\"body\":\"$batch\"}" | b64)
envelope as.Reply "$reply_batch" '"request_id":"rp-1","source":"intake"' >"$OUT/fuzz_envelope/env-reply-batch.bin"
health=$("$PACK" sample as.HealthReply | b64)
envelope as.Reply "$(pack as.Reply "{\"status\":200,\"body_type\":\"as.HealthReply\",\"body\":\"$health\"}" | b64)" \
    '"request_id":"h-1"' >"$OUT/fuzz_envelope/env-reply-health.bin"

# ---- fuzz_intake_validate: packed OpenTicket, and raw strings -------------------------------

fresh fuzz_intake_validate
pack intake.OpenTicket "${CMD[intake.OpenTicket]}" >"$OUT/fuzz_intake_validate/open-phone.bin"
pack intake.OpenTicket "$OPEN_CAR" >"$OUT/fuzz_intake_validate/open-car.bin"
pack intake.OpenTicket "$OPEN_GENERAL" >"$OUT/fuzz_intake_validate/open-general.bin"
pack intake.OpenTicket "$OPEN_MISMATCH" >"$OUT/fuzz_intake_validate/open-mismatch.bin"
pack intake.OpenTicket "$OPEN_BAD" >"$OUT/fuzz_intake_validate/open-bad.bin"
pack intake.OpenTicket '{}' >"$OUT/fuzz_intake_validate/open-empty.bin"
"$PACK" sample intake.OpenTicket >"$OUT/fuzz_intake_validate/open-sample.bin"
for s in 490154203237518 356938035643809 490154203237519 2025-04-10 2024-02-29 2023-02-29 \
    1900-01-01 2999-12-31 1899-12-31 0.005; do
    printf '%s' "$s" >"$OUT/fuzz_intake_validate/string-$s"
done

# ---- fuzz_warranty_eval: the golden cases, one line each ------------------------------------

fresh fuzz_warranty_eval
i=0
while IFS= read -r line; do
    i=$((i + 1))
    [ -n "$line" ] || continue
    printf '%s\n' "$line" >"$OUT/fuzz_warranty_eval/case-$(printf %03d $i).json"
done <tests/warranty/cases.jsonl
printf '%s\n' '{"id":"with-holidays","category":"phone_host","brand":"huaxin","invoice_date":"2025-01-27","claim_date":"2025-02-05","price_cents":399900,"proofs":{"invoice":true},"fault":{"code":"no_power"},"holidays":["2025-01-28","2025-01-29","2025-02-04"],"request":"refund"}' >"$OUT/fuzz_warranty_eval/holidays.json"
printf '2025-01-01\n# spring festival\n2025-01-28 \n\n2025-01-29\n' >"$OUT/fuzz_warranty_eval/calendar.txt"

# ---- HTTP: a control byte (see fuzz_http.c), then the bytes of one connection ---------------

# http_seed DIR NAME CONTROL TEXT — TEXT with \n turned into CRLF, after the control byte.
http_seed() {
    { printf "\\x$(printf %02x "$3")"; printf '%s' "$4" | sed -z 's/\n/\r\n/g'; } >"$OUT/$1/$2"
}

fresh fuzz_http
http_seed fuzz_http get 0 $'GET /v1/tickets?limit=5&a=b+c%20d HTTP/1.1\nHost: localhost\n\n'
http_seed fuzz_http post 8 $'POST /v1/tickets HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 16\n\n{"center":"SH1"}'
http_seed fuzz_http pipelined 16 $'GET /a HTTP/1.1\nHost: x\n\nGET /b?id=1 HTTP/1.1\nHost: x\n\nHEAD /c HTTP/1.1\nHost: x\n\nGET /d HTTP/1.1\nHost: x\nConnection: close\n\n'
http_seed fuzz_http chunked 1 $'POST /up HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5\nhello\n6;ext=1\n world\n0\nTrailer: t\n\n'
http_seed fuzz_http continue 24 $'POST /c HTTP/1.1\nHost: x\nExpect: 100-continue\nContent-Length: 4\n\nbody'
http_seed fuzz_http http10 32 $'GET /old HTTP/1.0\nConnection: keep-alive\n\nGET /old2 HTTP/1.0\n\n'
http_seed fuzz_http stream 24 $'GET /s HTTP/1.1\nHost: x\n\nGET /s2 HTTP/1.0\n\n'
http_seed fuzz_http halfclose 4 $'GET /h HTTP/1.1\nHost: x\n\n'
http_seed fuzz_http late 44 $'GET /late HTTP/1.1\nHost: x\n\nGET /after HTTP/1.1\nHost: x\n\n'
http_seed fuzz_http dotdot 0 $'GET /v1/%2e%2e/secret HTTP/1.1\nHost: x\n\n'
http_seed fuzz_http badpct 0 $'GET /a%zz?x=%00 HTTP/1.1\nHost: x\n\n'
http_seed fuzz_http te-gzip 0 $'POST /a HTTP/1.1\nTransfer-Encoding: gzip\n\n'
http_seed fuzz_http expect-bad 0 $'POST /a HTTP/1.1\nExpect: something\nContent-Length: 1\n\nx'
http_seed fuzz_http connect 0 $'CONNECT example.com:443 HTTP/1.1\nHost: example.com\n\n'
http_seed fuzz_http upgrade 8 $'GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n\n'
http_seed fuzz_http too-long 0 "$(printf 'GET /%s HTTP/1.1\nHost: x\n\n' "$(head -c 1100 /dev/zero | tr '\0' a)")"
http_seed fuzz_http body-too-long 0 $'POST /a HTTP/1.1\nContent-Length: 5000\n\n'
http_seed fuzz_http garbage 1 $'\x01\x02 not http at all\n\n'
http_seed fuzz_http options 40 $'OPTIONS * HTTP/1.1\nHost: x\n\nDELETE /x HTTP/1.1\nContent-Length: 0\n\n'

fresh fuzz_gateway_query
TOK="Authorization: Bearer fuzz-admin"
body=$(printf '%s' "${CMD[intake.OpenTicket]}" | tr -d '\n')
http_seed fuzz_gateway_query open-ticket 0 "POST /v1/tickets HTTP/1.1
Host: gw
Authorization: Bearer fuzz-center
Idempotency-Key: k-0001
Content-Type: application/json
Content-Length: ${#body}

$body"
http_seed fuzz_gateway_query list 1 $'GET /v1/tickets?center=SH01&state=open&limit=20&from=2025-04-01 HTTP/1.1\nHost: gw\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query list-bad-int 0 $'GET /v1/tickets?limit=ten HTTP/1.1\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query get 0 $'GET /v1/tickets/T-20250410-0001 HTTP/1.1\nAuthorization: Bearer fuzz-reviewer\nX-Trace-Id: t-1\n\n'
http_seed fuzz_gateway_query no-token 0 $'GET /v1/tickets HTTP/1.1\n\n'
http_seed fuzz_gateway_query bad-token 0 $'GET /v1/tickets HTTP/1.1\nAuthorization: Bearer nope\n\n'
http_seed fuzz_gateway_query wrong-role 0 $'POST /v1/tickets/T-1/cancel HTTP/1.1\nAuthorization: Bearer fuzz-warehouse\nContent-Length: 2\n\n{}'
http_seed fuzz_gateway_query wrong-method 0 $'DELETE /v1/tickets HTTP/1.1\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query not-found 0 $'GET /v2/nothing HTTP/1.1\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query healthz 0 $'GET /healthz HTTP/1.1\n\nPOST /healthz HTTP/1.1\nContent-Length: 0\n\n'
http_seed fuzz_gateway_query bad-json 0 $'POST /v1/tickets HTTP/1.1\n'"$TOK"$'\nContent-Length: 9\n\n{"center"'
b='{"accept":true,"colour":"red"}'
http_seed fuzz_gateway_query unknown-field 0 $'POST /v1/tickets/T-1/consent HTTP/1.1\n'"$TOK"$'\nContent-Length: '"${#b}"$'\n\n'"$b"
b='{"accept":"yes","note":7}'
http_seed fuzz_gateway_query wrong-types 2 $'POST /v1/tickets/T-1/consent HTTP/1.1\n'"$TOK"$'\nContent-Length: '"${#b}"$'\n\n'"$b"
http_seed fuzz_gateway_query list-out-of-range 0 $'GET /v1/tickets?limit=99999999999&center=%E4%B8%8A%E6%B5%B7&x=1 HTTP/1.1\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query metrics 0 $'GET /metrics HTTP/1.1\nAuthorization: Bearer fuzz-center\n\nGET /metrics HTTP/1.1\n'"$TOK"$'\n\n'
http_seed fuzz_gateway_query bad-key 0 $'POST /v1/tickets/T-1/handback HTTP/1.1\n'"$TOK"$'\nIdempotency-Key: has space\nContent-Length: 2\n\n{}'
# One request per route of every routes_*.c ({param} segments filled in). A GET route gets a
# query parameter it accepts (limit when it takes one, else its first; the gateway refuses any
# other with 400), as `as-gateway --query-params` lists them; none without a built gateway.
declare -A ACCEPTS
if [ -x "$AS_BUILD/bin/as-gateway" ]; then
    while IFS=$'\t' read -r method pattern params _; do
        [ "$method" = GET ] && ACCEPTS[$pattern]=$params
    done < <("$AS_BUILD/bin/as-gateway" --query-params)
fi
i=0
while IFS='|' read -r method pattern; do
    i=$((i + 1))
    path=$(printf '%s' "$pattern" | sed 's/{[a-z_]*}/X-0001/g')
    if [ "$method" = GET ]; then
        params=${ACCEPTS[$pattern]:--}
        query=
        if [[ ,$params, == *,limit,* ]]; then
            query='?limit=10'
        elif [ "$params" != - ]; then
            query="?${params%%,*}=X-0001"
        fi
        http_seed fuzz_gateway_query "route-$i" $((i % 8)) "GET $path$query HTTP/1.1
$TOK

"
    else
        http_seed fuzz_gateway_query "route-$i" $((i % 8)) "$method $path HTTP/1.1
$TOK
Content-Type: application/json
Content-Length: 2

{}"
    fi
done < <(grep -ho '{"\(GET\|POST\|PUT\|PATCH\|DELETE\)", *"[^"]*"' services/gateway/routes_*.c |
    sed 's/{"\([A-Z]*\)", *"\([^"]*\)"/\1|\2/' | sort -u)

for d in "$OUT"/*/; do
    printf 'make-corpus: %-22s %4d seeds\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)"
done
