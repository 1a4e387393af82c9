# shellcheck shell=bash
# tests/api/lib.sh — what the API tests and tools read: the gateway's route table, the reply type
# each service declares for its commands, and the operations of docs/api/openapi.yaml.
#
#   . tests/api/lib.sh
#   api_routes        METHOD PATH ROLES SERVICE COMMAND SUMMARY (tab-separated), from
#                     `as-gateway --routes` ($AS_BIN, else $AS_BUILD/bin, else build/bin)
#   api_reply_types   COMMAND REPLY, from the command tables in services/*/
#   api_operations [FILE]
#                     one line per operation of the OpenAPI document (default
#                     docs/api/openapi.yaml), tab-separated:
#                     METHOD PATH ROLES COMMAND REPLY PATH_PARAMS QUERY_PARAMS STATUSES
#                     SUCCESS_SCHEMA BODY_SCHEMA X_QUERY ROLES_SENTENCE
#                     (lists comma-separated, ROLES in the gateway's order; "-" for an
#                     empty field, so that `IFS=$'\t' read` keeps the columns)
#
# Only bash, awk and sed: the OpenAPI file keeps a fixed layout for this (see its header).

API_ROOT=${AS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
API_ROLES=(admin region center warehouse finance reviewer)

# api_gateway_bin — the as-gateway binary to ask for the route table.
api_gateway_bin() {
    local d
    for d in "${AS_BIN:-}" "${AS_BUILD:+$AS_BUILD/bin}" "$API_ROOT/build/bin"; do
        [ -n "$d" ] || continue
        case $d in /*) ;; *) d=$API_ROOT/$d ;; esac
        if [ -x "$d/as-gateway" ]; then
            printf '%s\n' "$d/as-gateway"
            return 0
        fi
    done
    echo "tests/api/lib.sh: no as-gateway binary (build first, or set AS_BIN)" >&2
    return 1
}

api_routes() {
    local gw
    gw=$(api_gateway_bin) || return 1
    "$gw" --routes
}

# api_sort_roles LIST — a comma-separated role list in the gateway's order (admin, region,
# center, warehouse, finance, reviewer); "-" and "" are the empty list; unknown names go last.
api_sort_roles() {
    local r out="" seen=",${1//[[:space:]]/},"
    for r in "${API_ROLES[@]}"; do
        if [[ $seen == *",$r,"* ]]; then
            out+=${out:+,}$r
            seen=${seen//,$r,/,}
        fi
    done
    seen=${seen//,-,/,}
    seen=${seen#,}
    seen=${seen%,}
    while [[ $seen == *,,* ]]; do seen=${seen//,,/,}; done
    [ -z "$seen" ] || out+=${out:+,}$seen
    printf '%s' "$out"
}

# api_reply_types — "pkg.Command<TAB>pkg.Reply" for every command a service declares
# ({"intake.OpenTicket", &intake__ticket__descriptor, ...} in its command table).
api_reply_types() {
    grep -ho '{"[a-z]*\.[A-Za-z]*", *&[a-z]*__[a-z0-9_]*__descriptor' "$API_ROOT"/services/*/*.c |
        sed -E 's/^\{"([^"]+)", *&([a-z]+)__([a-z0-9_]+)__descriptor$/\1 \2 \3/' |
        awk '{
            n = split($3, w, "_"); camel = ""
            for (i = 1; i <= n; i++) camel = camel toupper(substr(w[i], 1, 1)) substr(w[i], 2)
            print $1 "\t" $2 "." camel
        }' | sort -u
}

api_operations() {
    local file=${1:-$API_ROOT/docs/api/openapi.yaml}
    awk '
    function nz(v) { return v == "" ? "-" : v }
    function sort_roles(list,   n, w, i, j, out, seen) {
        n = split(list, w, ",")
        out = ""
        for (j = 1; j <= 6; j++) for (i = 1; i <= n; i++) if (w[i] == canon[j]) out = add(out, w[i])
        for (i = 1; i <= n; i++) if (w[i] != "" && !(w[i] in rank)) out = add(out, w[i])
        return out
    }
    function flush() {
        if (method == "") return
        if (indesc) end_desc()
        gsub(/\t/, " ", sentence)
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", toupper(method), path,
            nz(sort_roles(xroles)), nz(xcommand), nz(xreply), nz(pparams), nz(qparams), nz(codes),
            nz(success), nz(body), nz(xquery), nz(sentence)
        method = ""
    }
    function end_desc(   s) {
        indesc = 0
        s = desc
        if (match(s, /\.( |$)/)) s = substr(s, 1, RSTART - 1)
        sentence = s
    }
    BEGIN {
        split("admin region center warehouse finance reviewer", canon, " ")
        for (j = 1; j <= 6; j++) rank[canon[j]] = j
    }
    function add(list, v) { return list == "" ? v : list "," v }
    function schema_of(line,   s) {
        if (match(line, /#\/components\/schemas\/[A-Za-z0-9_.]+/))
            return substr(line, RSTART + 21, RLENGTH - 21)
        return ""
    }
    /^paths:/ { inpaths = 1; next }
    /^[a-z]/ && !/^paths:/ { if (inpaths) flush(); inpaths = 0 }
    !inpaths { next }
    /^  \/[^ ]*:$/ { flush(); path = substr($0, 3, length($0) - 3); next }
    /^    (get|post|put|patch|delete):$/ {
        flush(); method = $1; sub(/:$/, "", method)
        xroles = xcommand = xreply = pparams = qparams = codes = success = body = xquery = sentence = ""
        section = ""; indesc = 0
        next
    }
    method == "" { next }
    # leaving a multi-line description
    indesc && /^        / { desc = desc " " substr($0, 9); next }
    indesc { end_desc() }
    /^      [a-zA-Z-]+:/ { section = $1; sub(/:$/, "", section) }
    /^      x-roles: / {
        v = $0; sub(/^      x-roles: *\[/, "", v); sub(/\].*$/, "", v); gsub(/ /, "", v); xroles = v
        next
    }
    /^      x-command: / { xcommand = $2; next }
    /^      x-reply: / { xreply = $2; next }
    /^      x-query: / { xquery = $2; next }
    /^      description: \|$/ { indesc = 1; desc = ""; next }
    /^      description: / && sentence == "" { s = $0; sub(/^      description: */, "", s); sentence = s; next }
    section == "parameters" && /^        - \{name: / {
        v = $0; sub(/^        - \{name: */, "", v); name = v; sub(/,.*/, "", name)
        if (v ~ /in: path/) pparams = add(pparams, name)
        else if (v ~ /in: query/) qparams = add(qparams, name)
        next
    }
    section == "requestBody" && /schema:/ && body == "" { body = schema_of($0); next }
    section == "responses" && /^        '"'"'[0-9][0-9][0-9]'"'"':/ {
        code = substr($1, 2, 3); codes = add(codes, code); curcode = code
        if (code ~ /^2/ && success == "") success = schema_of($0)
        next
    }
    section == "responses" && /schema:/ && curcode ~ /^2/ && success == "" { success = schema_of($0); next }
    END { flush() }
    ' "$file"
}
