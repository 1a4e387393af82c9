#!/usr/bin/env bash
# API reference: docs/api/openapi.yaml documents exactly the routes the gateway serves
# (`as-gateway --routes`): the same methods and paths, the same roles in x-roles and in the
# description's "Roles:" sentence, the same commands, the reply types the services declare, the
# path and query parameters the gateway reads, and schemas generated from the current protos.
# Needs no running stack (it is static), only the built gateway.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../api/lib.sh"

DOC=$API_ROOT/docs/api/openapi.yaml
ROUTES=$(api_routes) || {
    t_fail "the gateway prints its route table" "as-gateway --routes failed"
    t_done
}
OPS=$(api_operations "$DOC")
REPLIES=$(api_reply_types)
FIELDS=$("$API_ROOT/tests/api/openapi-schemas.sh" --fields)

t_ok "the gateway prints its route table ($(wc -l <<<"$ROUTES") routes)"
t_eq "the document describes as many operations as the gateway has routes" \
    "$(wc -l <<<"$ROUTES" | tr -d ' ')" "$(wc -l <<<"$OPS" | tr -d ' ')"

# --- the document is well-formed ---
if command -v yq >/dev/null 2>&1 && yq --version 2>&1 | grep -q '^yq [0-3]\.'; then
    if out=$(yq -e '.openapi and .paths and .components' "$DOC" 2>&1 >/dev/null); then
        t_ok "openapi.yaml is valid YAML with openapi, paths and components (yq)"
    else
        t_fail "openapi.yaml is valid YAML with openapi, paths and components (yq)" "$out"
    fi
elif /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    if out=$(/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d["openapi"] and d["paths"] and d["components"]' "$DOC" 2>&1); then
        t_ok "openapi.yaml is valid YAML with openapi, paths and components (python3-yaml)"
    else
        t_fail "openapi.yaml is valid YAML with openapi, paths and components (python3-yaml)" "$out"
    fi
else
    t_ok "openapi.yaml is valid YAML # SKIP neither Debian's yq nor python3-yaml is installed"
fi
bad=$(awk '/\t/ { print FILENAME ":" FNR ": a tab character" }' "$DOC")
t_eq "openapi.yaml indents with spaces only" "" "$bad"

# --- routes <-> operations ---
keys_routes=$(awk -F'\t' '{ print $1 " " $2 }' <<<"$ROUTES" | sort)
keys_ops=$(awk -F'\t' '{ print $1 " " $2 }' <<<"$OPS" | sort)
missing=$(comm -23 <(printf '%s\n' "$keys_routes") <(printf '%s\n' "$keys_ops"))
extra=$(comm -13 <(printf '%s\n' "$keys_routes") <(printf '%s\n' "$keys_ops"))
dups=$(printf '%s\n' "$keys_ops" | uniq -d)
t_eq "every route of the gateway is documented (method + path)" "" "$missing"
t_eq "every documented operation is a route of the gateway" "" "$extra"
t_eq "no operation is documented twice" "" "$dups"

# Per route: roles, command, reply type, parameters, statuses, the "Roles:" sentence.
roles_bad="" cmd_bad="" reply_bad="" ppar_bad="" qpar_bad="" body_bad="" ok_bad="" status_bad="" sentence_bad=""
while IFS=$'\t' read -r method path roles svc cmd _; do
    op=$(awk -F'\t' -v m="$method" -v p="$path" '$1 == m && $2 == p' <<<"$OPS")
    [ -n "$op" ] || continue
    IFS=$'\t' read -r _ _ xroles xcmd xreply pparams qparams codes success body xquery sentence <<<"$op"
    want_roles=$(api_sort_roles "$roles")
    [ "$xroles" = - ] && xroles=""
    [ "$xroles" = "$want_roles" ] ||
        roles_bad+="$method $path: x-roles [$xroles], gateway [$want_roles]"$'\n'
    [ "$cmd" = - ] && cmd=none
    [ "$xcmd" = "$cmd" ] || cmd_bad+="$method $path: x-command $xcmd, gateway $cmd"$'\n'

    # The "Roles:" sentence names the same roles ("every role" = all six, "none" = no token).
    sentence=${sentence# }
    if [[ $sentence != Roles:* ]]; then
        sentence_bad+="$method $path: the description does not start with \"Roles: ...\""$'\n'
    else
        named=""
        if [[ $sentence == *"every role"* ]]; then
            named=admin,region,center,warehouse,finance,reviewer
        else
            for r in "${API_ROLES[@]}"; do
                [[ " $sentence " =~ [^a-z_]${r}[^a-z_] ]] && named+=${named:+,}$r
            done
        fi
        [ "$named" = "$want_roles" ] ||
            sentence_bad+="$method $path: the sentence names [$named], the gateway allows [$want_roles]: $sentence"$'\n'
    fi

    if [ "$cmd" != none ]; then
        declared=$(awk -F'\t' -v c="$cmd" '$1 == c { print $2 }' <<<"$REPLIES")
        [ "$xreply" = "$declared" ] ||
            reply_bad+="$method $path: x-reply $xreply, $svc declares ${declared:-nothing} for $cmd"$'\n'
        # The documented success schema is the reply type (or a hand-written schema, no dot).
        if [[ $success == *.* ]] && [ "$success" != "$xreply" ]; then
            ok_bad+="$method $path: the success answer is $success, the reply type is $xreply"$'\n'
        fi
        # A body schema that is a proto message must be the command itself.
        if [[ $body == *.* ]] && [ "$body" != "$cmd" ]; then
            body_bad+="$method $path: the body schema is $body, the command is $cmd"$'\n'
        fi
        if [ "$method" = POST ] && [ "$body" = - ] && [ "$(grep -o '{[a-z_]*}' <<<"$path" | wc -l)" -eq 0 ]; then
            body_bad+="$method $path: no request body documented"$'\n'
        fi
    fi

    # Path parameters: the {name} segments, in order.
    want_p=$(grep -o '{[a-z_]*}' <<<"$path" | tr -d '{}' | paste -sd, -)
    [ "$pparams" = - ] && pparams=""
    [ "$pparams" = "$want_p" ] || ppar_bad+="$method $path: path parameters [$pparams], the path has [$want_p]"$'\n'

    # Query parameters of GET routes: the command's fields minus the path's.
    if [ "$method" = GET ] && [ "$cmd" != none ] && [ "$xquery" != custom ]; then
        want_q=$(awk -F'\t' -v c="$cmd" '$1 == c { print $2 }' <<<"$FIELDS" |
            grep -vxF -f <(tr ',' '\n' <<<"${want_p:-@none@}") | sort | paste -sd, -)
        [ "$qparams" = - ] && qparams=""
        have_q=$(tr ',' '\n' <<<"$qparams" | sed '/^$/d' | sort | paste -sd, -)
        [ "$have_q" = "$want_q" ] ||
            qpar_bad+="$method $path: query parameters [$have_q], $cmd has [$want_q]"$'\n'
    fi

    # Statuses every route must list.
    need=""
    # a public route (no roles: the status page, sign-in) needs no credentials: 401 only if it says so
    case $path in /healthz | /livez | /readyz*) ;; *) [ -z "$want_roles" ] || need+=" 401" ;; esac
    [ "$want_roles" = admin,region,center,warehouse,finance,reviewer ] || [ -z "$want_roles" ] || need+=" 403"
    [ "$method" = POST ] && need+=" 400"
    [ "$cmd" != none ] && need+=" 503 504"
    [[ $codes =~ (^|,)2[0-9][0-9] ]] || need+=" 2xx"
    for c in $need; do
        if [ "$c" = 2xx ]; then
            status_bad+="$method $path: no success status"$'\n'
        elif [[ ! ,$codes, == *",$c,"* ]]; then
            status_bad+="$method $path: status $c is not documented"$'\n'
        fi
    done
done <<<"$ROUTES"
t_eq "x-roles lists exactly the roles the gateway allows, for every route" "" "${roles_bad%$'\n'}"
t_eq "each description's \"Roles:\" sentence names the roles of x-roles" "" "${sentence_bad%$'\n'}"
t_eq "x-command names the gateway's command, for every route" "" "${cmd_bad%$'\n'}"
t_eq "x-reply names the reply type the owning service declares" "" "${reply_bad%$'\n'}"
t_eq "the documented success answer is the reply type" "" "${ok_bad%$'\n'}"
t_eq "request bodies are the command's message" "" "${body_bad%$'\n'}"
t_eq "path parameters match the path's {segments}" "" "${ppar_bad%$'\n'}"
t_eq "GET query parameters are exactly the command's fields" "" "${qpar_bad%$'\n'}"
t_eq "every route lists 401, 403 (unless open to all), 400 (POST), 503 and 504" "" "${status_bad%$'\n'}"

# --- components ---
defined=$(awk '/^components:/ { c = 1; next } c && /^    [A-Za-z0-9_.-]+:$/ { n = $1; sub(/:$/, "", n); print n }' "$DOC" | sort -u)
used=$(grep -o "#/components/[a-zA-Z]*/[A-Za-z0-9_.-]*" "$DOC" | sed 's|.*/||' | sort -u)
t_eq "every \$ref points to a defined component" "" "$(comm -23 <(printf '%s\n' "$used") <(printf '%s\n' "$defined"))"

gen=$("$API_ROOT/tests/api/openapi-schemas.sh" "$DOC" 2>&1) || true
have=$(awk '$0 == "    # BEGIN GENERATED SCHEMAS" { p = 1 } p { print } $0 == "    # END GENERATED SCHEMAS" { p = 0 }' "$DOC")
if [ "$gen" = "$have" ]; then
    t_ok "the schemas are the ones proto/*.proto gives today"
else
    t_fail "the schemas are the ones proto/*.proto gives today" \
        "run tests/api/openapi-schemas.sh --update; the difference:"$'\n'"$(diff <(printf '%s\n' "$have") <(printf '%s\n' "$gen") | head -40)"
fi
t_done
