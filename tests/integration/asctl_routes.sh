#!/usr/bin/env bash
# asctl's declared verbs (ASCTL_CALL rows) against the route table, through the document generated
# from it (docs/api/openapi.yaml): each verb's method and path — and its `one` path — is a route,
# each query option a query parameter of that route, each body option (and `arg`) a field of the
# route's request body. scripts/asctl-routes.py does the reading; one check per verb.
. "$(dirname "$0")/../lib.sh"

ROOT=${AS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd -P)}
out=$(python3 "$ROOT/scripts/asctl-routes.py" "$ROOT" 2>&1)
t_match "asctl-routes.py read the declared verbs" '^1\.\.[0-9]{2,}$' "$(tail -n 1 <<<"$out")"
while IFS= read -r line; do
    case $line in
    "ok "*) t_ok "${line#ok * - }" ;;
    "not ok "*)
        line=${line#not ok * - }
        t_fail "${line%%: *}" "${line#*: }"
        ;;
    esac
done <<<"$out"
t_done
