#!/usr/bin/env bash
# The contract, held together: the closed value sets and required fields declared in proto/*.proto
# ([enum: pkg.Name], [required]) against the gateway's route table, docs/api/openapi.yaml and the
# running services; then a real OpenAPI validator (@apidevtools/swagger-parser) over the document,
# a TypeScript client generated from it (openapi-typescript) that must type-check a full ticket
# journey (tests/contract/journey.ts) without casts, and must refuse that journey with a wrong
# field name or enum value; last, the journey runs against the test stack.
# The npm packages come from tests/contract/package-lock.json: `npm ci` into build/contract (once
# per lock change), where the journey is copied, its types generated and compiled.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

DOC=$API_ROOT/docs/api/openapi.yaml
CONTRACT=$API_ROOT/tests/contract
GEN=$API_ROOT/build/contract
ENUMS=$("$API_ROOT/tests/api/openapi-schemas.sh" --enums)
ROUTES=$(api_routes)
QPARAMS=$("$(api_gateway_bin)" --query-params)

# --- enums: the route table's enumerated query parameters and the document's ---
route_bad="" doc_bad=""
while IFS=$'\t' read -r method path _ _ cmd _; do
    [ "$method" = GET ] && [ "$cmd" != - ] || continue
    declared=$(awk -F'\t' -v m="$method" -v p="$path" '$1 == m && $2 == p { print $4 }' <<<"$QPARAMS")
    # The document's query parameters of this operation, "name<TAB>v1|v2" (enum or empty).
    docq=$(awk -v p="  $path:" '
        $0 == p { inpath = 1; next }
        /^  \// { inpath = 0; inget = 0 }
        inpath && /^    get:/ { inget = 1; next }
        inpath && /^    [a-z]+:/ { inget = 0 }
        inget && /in: query/ {
            n = $0; sub(/.*name: /, "", n); sub(/,.*/, "", n)
            e = ""
            if (match($0, /enum: \[[^]]*\]/)) { e = substr($0, RSTART + 7, RLENGTH - 8); gsub(/, /, "|", e) }
            print n "\t" e
        }' "$DOC")
    while IFS=$'\t' read -r msg field enum vals; do
        [ "$msg" = "$cmd" ] || continue
        rv=$(tr ';' '\n' <<<"$declared" | sed -n "s/^$field=//p")
        if [ -n "$rv" ] && [ "$rv" != "$vals" ]; then
            route_bad+="$method $path ?$field: the route table has [$rv], $enum has [$vals]"$'\n'
        fi
        dv=$(awk -F'\t' -v f="$field" '$1 == f { print $2 }' <<<"$docq")
        [ "$dv" = "$vals" ] || doc_bad+="$method $path ?$field: the document has enum [$dv], $enum has [$vals]"$'\n'
    done <<<"$ENUMS"
done <<<"$ROUTES"
t_eq "the route table's enumerated query parameters have the values of their proto enum" "" "${route_bad%$'\n'}"
t_eq "the document's query parameters carry the enum of their proto field" "" "${doc_bad%$'\n'}"

dup_paths=$(grep -E '^  /[^ ]*:$' "$DOC" | sort | uniq -d)
t_eq "every path is one key of the document (no duplicated YAML key)" "" "$dup_paths"

# --- [required]: a POST of {} is refused with 400 naming each required field of its command ---
# (the validators in the services are the other place that knows; this holds the two together)
FIELDS_REQ=$("$API_ROOT/tests/api/openapi-schemas.sh" --required)
req_bad="" req_n=0
while IFS=$'\t' read -r method path _ _ cmd _; do
    [ "$method" = POST ] && [ "$cmd" != - ] || continue
    want=$(awk -F'\t' -v c="$cmd" '$1 == c { print $2 }' <<<"$FIELDS_REQ")
    [ -n "$want" ] || continue
    url=$(sed -E 's/\{[a-z_]+\}/CONTRACT-404/g' <<<"$path")
    http POST "$url" "$AS_TOKEN_ADMIN" '{}'
    req_n=$((req_n + 1))
    if [ "$HTTP_STATUS" != 400 ]; then
        req_bad+="POST $path {}: HTTP $HTTP_STATUS, expected 400 (required: $want)"$'\n'
        continue
    fi
    named=$(jbody '[.error.fields[]? | .field] | join(" ")')
    for f in $want; do
        [[ " $named " == *" $f "* ]] ||
            req_bad+="POST $path {}: 400 does not name the required field $f (it names: $named)"$'\n'
    done
done <<<"$ROUTES"
t_note "$req_n commands with required fields posted empty"
t_eq "each [required] field of a command is required by its service (400 naming it)" "" "${req_bad%$'\n'}"

# --- [enum: ...] in commands: a value outside the set is refused with 400 on that field, and the
# service's message lists the proto enum's values (the validators read them from the descriptors).
# A command whose validator stops at an earlier field gets that field in its base body.
enum_base() {
    case $1 in
    warranty.DecideReview) echo '{"action": "override", "reason": "contract test"}' ;;
    people.CreateUser) echo '{"login": "contract.enum", "display_name": "Contract Enum"}' ;;
    *) echo '{}' ;;
    esac
}
enum_bad="" enum_n=0
while IFS=$'\t' read -r method path _ _ cmd _; do
    [ "$method" = POST ] && [ "$cmd" != - ] || continue
    while IFS=$'\t' read -r msg field enum vals; do
        [ "$msg" = "$cmd" ] || continue
        url=$(sed -E 's/\{[a-z_]+\}/CONTRACT-404/g' <<<"$path")
        http POST "$url" "$AS_TOKEN_ADMIN" "$(enum_base "$cmd" | jq -c --arg f "$field" '.[$f] = "not_a_value"')"
        enum_n=$((enum_n + 1))
        if [ "$HTTP_STATUS" != 400 ]; then
            enum_bad+="POST $path {$field: not_a_value}: HTTP $HTTP_STATUS, expected 400"$'\n'
            continue
        fi
        problem=$(printf '%s' "$HTTP_BODY" | jq -r --arg f "$field" '.error.fields[]? | select(.field == $f) | .problem' 2>/dev/null)
        [ -n "$problem" ] || { enum_bad+="POST $path: 400 does not name $field"$'\n'; continue; }
        for v in ${vals//|/ }; do
            [[ $problem =~ (^|[^a-z_])${v}([^a-z_]|$) ]] ||
                enum_bad+="POST $path $field: the message does not list $v of $enum: $problem"$'\n'
        done
    done <<<"$ENUMS"
done <<<"$ROUTES"
t_note "$enum_n enumerated command fields posted with a value outside their set"
t_eq "each [enum: ...] field of a command is checked against its proto enum (400, its values listed)" "" "${enum_bad%$'\n'}"

# --- the npm tools (pinned by package-lock.json) ---
if ! command -v npm >/dev/null 2>&1; then
    t_fail "npm is installed (Node 20)" "no npm on PATH"
    t_done
fi
mkdir -p "$GEN"
stamp=$GEN/.npm-stamp
if ! cmp -s "$CONTRACT/package-lock.json" "$stamp" 2>/dev/null; then
    cp "$CONTRACT/package.json" "$CONTRACT/package-lock.json" "$GEN/"
    if out=$(cd "$GEN" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline 2>&1); then
        cp "$CONTRACT/package-lock.json" "$stamp"
    else
        t_fail "npm ci installs the contract tools" "$out"
        t_done
    fi
fi
t_ok "the contract tools are installed (npm ci from tests/contract/package-lock.json)"
BIN=$GEN/node_modules/.bin
cp "$CONTRACT/journey.ts" "$CONTRACT/tsconfig.json" "$CONTRACT/validate.mjs" "$GEN/"

if out=$(node "$GEN/validate.mjs" "$DOC" 2>&1); then
    t_ok "swagger-parser validates the document: $out"
else
    t_fail "swagger-parser validates the document" "$out"
fi

rm -rf "$GEN/api.d.ts" "$GEN/js" "$GEN/mut"
if out=$("$BIN/openapi-typescript" "$DOC" -o "$GEN/api.d.ts" 2>&1); then
    t_ok "openapi-typescript generates the client's types from the document"
else
    t_fail "openapi-typescript generates the client's types from the document" "$out"
    t_done
fi
t_check "the generated types have the ticket states as a union" \
    grep -q '"intake.TicketState": "received" | "adjudicated"' "$GEN/api.d.ts"
t_check "and a ticket always has its id and state" grep -qE '^ {12}state: components' "$GEN/api.d.ts"

if out=$(cd "$GEN" && "$BIN/tsc" --noEmit -p . 2>&1); then
    t_ok "tsc --noEmit: the ticket journey type-checks against the generated client"
else
    t_fail "tsc --noEmit: the ticket journey type-checks against the generated client" "$out"
fi
grep -nE '\bas (any|unknown|[A-Z])|<any>|@ts-(ignore|expect-error|nocheck)' "$CONTRACT/journey.ts" >/tmp/contract-casts.$$ || true
t_eq "the journey has no casts and no ts-ignore" "" "$(cat /tmp/contract-casts.$$)"
rm -f /tmp/contract-casts.$$

# The types have teeth: each mistake below must fail the type-check.
mkdir -p "$GEN/mut"
mutant() { # NAME SED-EXPRESSION
    sed -e 's|"\./api\.js"|"../api.js"|' -e "$2" "$CONTRACT/journey.ts" >"$GEN/mut/journey.ts"
    if cmp -s "$CONTRACT/journey.ts" "$GEN/mut/journey.ts"; then
        t_fail "$1" "the mutation did not apply"
        return
    fi
    if (cd "$GEN/mut" && "$BIN/tsc" --noEmit --strict --target es2022 --module nodenext \
        --moduleResolution nodenext --skipLibCheck --types node journey.ts) >/dev/null 2>&1; then
        t_fail "$1" "tsc accepted it"
    else
        t_ok "$1"
    fi
}
mutant "a request value outside intake.Request fails the type-check" 's/request: "repair"/request: "fix"/'
mutant "a ticket state that does not exist fails the type-check" 's/"estimate_pending");/"estimate_waiting");/'
mutant "a misspelt body field fails the type-check" 's/    estimate_cents: 42000,/    estimate_cent: 42000,/'
mutant "a misspelt answer field fails the type-check" 's/ready.work?.consented_estimate_cents !==/ready.work?.consented_estimate !==/'
mutant "a missing required field (fault) fails the type-check" 's/^    fault: { code.*$//'
mutant "a route that does not exist fails the type-check" 's|"/v1/tickets/{id}/consent"|"/v1/tickets/{id}/consents"|'
mutant "a payment method outside intake.PaymentMethod fails the type-check" 's/payment_method: "wechat_pay" }/payment_method: "wechat" }/'

# --- the journey, live ---
if out=$(cd "$GEN" && "$BIN/tsc" -p . --outDir js 2>&1); then
    out=$(cd "$GEN/js" && JOURNEY_IMEI=$(new_imei) JOURNEY_INVOICE_DATE=$(TZ=Asia/Shanghai date -d "-100 days" +%F) node journey.js 2>&1)
    rc=$?
    t_note "$out"
    t_eq "the typed journey runs against the stack: open, adjudicated, diagnose, consent, repair, ready, hand back" 0 "$rc"
else
    t_fail "the journey compiles to JavaScript" "$out"
fi
t_done
