#!/usr/bin/env bash
# Gateway query parameters: every route accepts exactly the query parameters it lists
# (`as-gateway --query-params`: a generic GET route its command's fields that are not path
# parameters, a custom handler what it declares, POST routes and /healthz, /metrics none), and
# docs/api/openapi.yaml documents exactly those. Anything else — an unknown name, a name given
# twice, a path parameter repeated in the query, any query on a POST route — is 400 bad_query
# naming the parameter, and nothing reaches a service. asctl's options map onto accepted
# parameters only.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

t_need_gateway
ASCTL=$(dirname "$GW")/asctl
ACCEPTS=$("$GW" --query-params)
ROUTES=$("$GW" --routes)
t_eq "--query-params lists every route, /healthz and /metrics included" \
    "$(wc -l <<<"$ROUTES" | tr -d ' ')" "$(wc -l <<<"$ACCEPTS" | tr -d ' ')"

# accepts METHOD PATH — the comma-separated names the route accepts ("" for none).
accepts() {
    awk -F'\t' -v m="$1" -v p="$2" '$1 == m && $2 == p { print ($3 == "-" ? "" : $3) }' <<<"$ACCEPTS"
}
sorted() { tr ',' '\n' <<<"$1" | sed '/^$/d' | sort | paste -sd, -; }

# --- the document lists exactly what each route accepts (custom handlers included) ---
OPS=$(api_operations "$API_ROOT/docs/api/openapi.yaml")
bad=""
while IFS=$'\t' read -r method path names _; do
    [ "$names" = - ] && names=""
    doc=$(awk -F'\t' -v m="$method" -v p="$path" '$1 == m && $2 == p { print $7 }' <<<"$OPS")
    [ "$doc" = - ] && doc=""
    [ "$(sorted "$doc")" = "$(sorted "$names")" ] ||
        bad+="$method $path: the document lists [$(sorted "$doc")], the gateway accepts [$(sorted "$names")]"$'\n'
done <<<"$ACCEPTS"
t_eq "openapi.yaml documents exactly the query parameters each route accepts" "" "${bad%$'\n'}"
t_eq "the export accepts format, from, to and after" "after,format,from,to" \
    "$(sorted "$(accepts GET /v1/settlement/export)")"
t_eq "POST routes accept no query parameters" "" \
    "$(awk -F'\t' '$1 == "POST" && $3 != "-"' <<<"$ACCEPTS")"

# --- enumerated filters: the gateway's allowed values are the document's `enum` ---
# gateway: METHOD PATH NAME v1|v2... for every declared enumeration (column 4 of --query-params)
gw_enums=$(awk -F'\t' '$4 != "-" && $4 != "" {
    n = split($4, e, ";"); for (i = 1; i <= n; i++) { k = e[i]; sub(/=.*/, "", k); v = e[i]; sub(/^[^=]*=/, "", v); print $1 "\t" $2 "\t" k "\t" v } }' <<<"$ACCEPTS" | sort)
# document: the same, from the query parameters that carry `enum: [...]`
doc_enums=$(awk '
    /^  \/[^ ]*:$/ { path = substr($0, 3, length($0) - 3); next }
    /^    (get|post|put|patch|delete):$/ { method = toupper($1); sub(/:$/, "", method); next }
    /^        - \{name: / && /in: query/ && /enum: \[/ {
        name = $0; sub(/^        - \{name: */, "", name); sub(/,.*/, "", name)
        v = $0; sub(/.*enum: \[/, "", v); sub(/\].*/, "", v); gsub(/ /, "", v); gsub(/,/, "|", v)
        print method "\t" path "\t" name "\t" v
    }' "$API_ROOT/docs/api/openapi.yaml" | sort)
t_eq "every enumerated query filter has the same allowed values in the gateway and in openapi.yaml" \
    "" "$(diff <(printf '%s\n' "$gw_enums") <(printf '%s\n' "$doc_enums") | grep '^[<>]' || true)"
t_match "the ticket list's state is one of them" \
    $'GET\t/v1/tickets\tstate\treceived\\|' "$gw_enums"
# live: a value outside the list is 400 naming the allowed values; the first allowed one is served
declare -A TOK=([admin]=$AS_TOKEN_ADMIN [region]=$AS_TOKEN_REGION [center]=$AS_TOKEN_CENTER
    [warehouse]=$AS_TOKEN_WAREHOUSE [finance]=$AS_TOKEN_FINANCE [reviewer]=$AS_TOKEN_REVIEWER)
bad=""
n=0
while IFS=$'\t' read -r method path name vals; do
    [ -n "$method" ] || continue
    roles=$(awk -F'\t' -v m="$method" -v p="$path" '$1 == m && $2 == p { print $3 }' <<<"$ROUTES")
    token=${TOK[${roles%%,*}]}
    n=$((n + 1))
    http GET "$path?$name=bogus_value" "$token"
    want="query parameter '$name' must be one of: ${vals//|/, } (got 'bogus_value')"
    [ "$HTTP_STATUS $(jbody .error.code)" = "400 bad_query" ] && [ "$(jbody .error.message)" = "$want" ] ||
        bad+="$path?$name=bogus_value: HTTP $HTTP_STATUS $(jbody .error.message)"$'\n'
    http GET "$path?$name=${vals%%|*}" "$token"
    [ "$HTTP_STATUS" != 400 ] || bad+="$path?$name=${vals%%|*}: HTTP 400 $(jbody .error.message)"$'\n'
done <<<"$gw_enums"
t_eq "each of the $n enumerated filters refuses an unknown value (400 naming the allowed ones) and takes a listed one" \
    "" "${bad%$'\n'}"
http GET "/v1/tickets?state=bogus" "$AS_TOKEN_CENTER"
t_status "GET /v1/tickets?state=bogus is a 400" 400
t_match "  naming the allowed values" "must be one of: received, adjudicated, .*exchanged" "$(jbody .error.message)"

# --- live: what is refused, and how ---
metrics_calls() {
    curl -sS --max-time 10 -H "Authorization: Bearer $AS_TOKEN_ADMIN" "$AS_GATEWAY_URL/metrics" |
        awk '/^aftersales_command_duration_seconds_count/ { n += $NF } END { print n + 0 }'
}
before=$(metrics_calls)

http GET "/v1/tickets?stat=open" "$AS_TOKEN_CENTER"
t_status "a typo in a filter is refused, not ignored" 400
t_eq "  with code bad_query" bad_query "$(jbody .error.code)"
t_match "  naming the parameter and the accepted ones" \
    "unknown query parameter 'stat' \(this route accepts: .*state.*\)" "$(jbody .error.message)"
http GET "/v1/tickets?state=closed&limit=5&state=received" "$AS_TOKEN_CENTER"
t_status "a parameter given twice is refused" 400
t_match "  saying so" "'state' is given more than once" "$(jbody .error.message)"
http GET "/v1/tickets/T-NOPE?id=T-OTHER" "$AS_TOKEN_CENTER"
t_status "a path parameter repeated in the query is refused" 400
t_match "  saying so" "'id' is a path parameter" "$(jbody .error.message)"
http POST "/v1/tickets/T-NOPE/cancel?reason=typo" "$AS_TOKEN_CENTER" '{"reason":"x"}'
t_status "a query parameter on a POST route is refused" 400
t_eq "  with code bad_query" bad_query "$(jbody .error.code)"
http GET "/v1/settlement/export?format=csv&limit=10" "$AS_TOKEN_FINANCE"
t_status "the export (a custom handler) refuses what it does not read" 400
t_match "  and lists what it reads" "'limit' \(this route accepts: format, from, to, after\)" \
    "$(jbody .error.message)"
http GET "/healthz?verbose=1"
t_status "/healthz takes no query parameters" 400
http GET "/metrics?name=x" "$AS_TOKEN_ADMIN"
t_status "/metrics takes no query parameters" 400
http GET "/v1/tickets?%FF%01x%22=1" "$AS_TOKEN_CENTER"
t_status "a parameter name that is not text is refused" 400
t_eq "  and the answer is still valid JSON" bad_query "$(jq -r .error.code <<<"$HTTP_BODY" 2>/dev/null)"
http GET "/v1/tickets?stat=open" ""
t_status "the token is checked first (401)" 401
http GET "/v1/settlement/export?limit=10" "$AS_TOKEN_CENTER"
t_status "the role is checked first (403)" 403

# Every route refuses an unknown parameter, called with a role it allows.
declare -A TOKEN=([admin]=$AS_TOKEN_ADMIN [region]=$AS_TOKEN_REGION [center]=$AS_TOKEN_CENTER
    [warehouse]=$AS_TOKEN_WAREHOUSE [finance]=$AS_TOKEN_FINANCE [reviewer]=$AS_TOKEN_REVIEWER)
bad=""
n=0
while IFS=$'\t' read -r method path roles _; do
    role=${roles%%,*}
    token=""
    [ "$role" = - ] || token=${TOKEN[$role]}
    target=$(sed -E 's/\{[a-z_]+\}/QP-NOPE/g' <<<"$path")
    body=""
    [ "$method" = POST ] && body='{}'
    http "$method" "$target?zz_unknown=1" "$token" "$body"
    n=$((n + 1))
    [ "$HTTP_STATUS $(jbody .error.code)" = "400 bad_query" ] ||
        bad+="$method $path ($role): HTTP $HTTP_STATUS $(jbody .error.code)"$'\n'
done <<<"$ROUTES"
t_eq "each of the $n routes refuses an unknown query parameter with 400 bad_query" "" "${bad%$'\n'}"

after=$(metrics_calls)
t_eq "none of the refused requests reached a service" "$before" "$after"

http GET "/v1/tickets?state=received&limit=1" "$AS_TOKEN_CENTER"
t_status "accepted parameters still work" 200
http GET "/v1/settlement/export?format=json&from=2000-01-01&to=2000-01-01" "$AS_TOKEN_FINANCE"
t_status "the export's own parameters still work" 200

# --- asctl: each option of a list verb becomes a parameter the route accepts ---
# (asctl prints the request with -v; a closed port makes it stop right after.)
bad=""
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    read -ra words <<<"$cmd"
    line=$("$ASCTL" --url http://127.0.0.1:1 --token x -v "${words[@]}" 2>&1 >/dev/null | sed -n 's/^> GET //p' | head -1)
    if [ -z "$line" ]; then
        bad+="asctl $cmd: sent no GET"$'\n'
        continue
    fi
    url=${line#http://127.0.0.1:1}
    path=${url%%\?*}
    qs=${url#"$path"}
    qs=${qs#\?}
    route=$(awk -F'\t' -v p="$path" '$1 == "GET" {
        re = "^" $2 "$"; gsub(/\{[a-z_]+\}/, "[^/]+", re); if (p ~ re) { print $2; exit } }' <<<"$ACCEPTS")
    ok=$(accepts GET "$route")
    sent=$(tr '&' '\n' <<<"$qs" | sed 's/=.*//' | sort | paste -sd, -)
    opts=$(grep -o -- ' --[a-z-]*' <<<" $cmd" | grep -cv -- '--quiet')
    for k in ${sent//,/ }; do
        [[ ,$ok, == *",$k,"* ]] || bad+="asctl $cmd: sends '$k', $route accepts [$ok]"$'\n'
    done
    [ "$(tr ',' '\n' <<<"$sent" | sed '/^$/d' | wc -l)" -ge "$opts" ] ||
        bad+="asctl $cmd: sent [$sent] for $opts options"$'\n'
done <<'CMDS'
ticket list --center SH01 --state open --imei 1 --serial S --phone 1 --from 2026-01-01 --to 2026-01-02 --limit 5 --after T1
review list --status pending --limit 5 --after 1
warranty policy --version v1
parts stock --site SH01 --sku S
parts movements --site SH01 --sku S --kind issue --ticket T1 --after 1 --limit 5
parts transfers --site SH01 --state open --ticket T1 --limit 5
parts reservations --ticket T1 --site SH01 --state held --limit 5
parts replenishment --site SH01 --sku S
parts returns --status owed --site SH01 --ticket T1 --limit 5
parts loaners --site SH01 --state available
parts skus --brand B --model M --q x
parts ledger-check --site SH01
survey due --date 2026-01-01 --center SH01 --limit 5
survey report --group center --from 2026-01-01 --to 2026-01-02
complaint list --state open --severity general --center SH01 --cause price --ticket T1 --after C1 --limit 5
complaint overdue --center SH01 --limit 5
complaint report --group cause --from 2026-01-01 --to 2026-01-02
settlement invoices --center SH01 --year 2026 --after X --limit 5
settlement claims --manufacturer M --period 2026-01 --state open --after X --limit 5
settlement balance --period 2026-01 --from 2026-01-01 --to 2026-01-02
settlement costs --group cause --from 2026-01-01 --to 2026-01-02
settlement export --from 2026-01-01 --to 2026-01-02 --format json --after 1.1 --quiet
CMDS
t_eq "every asctl list option is sent as a query parameter its route accepts" "" "${bad%$'\n'}"
"$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket list --stat open >/dev/null 2>&1
t_eq "asctl refuses an option it does not know (usage, exit 2)" 2 "$?"
t_done
