#!/usr/bin/env bash
# The Grafana dashboard (deploy/grafana/aftersales.json) and the alert rules
# (deploy/prometheus/alerts.yml) against a real scrape of this stack's GET /metrics:
#   - the dashboard is valid JSON, every panel has a query, panel ids are unique;
#   - every metric name any dashboard query or alert expression uses is in the scrape (`up` is
#     Prometheus's own series);
#   - the series that have a closed set of labels are there from the start, zeros included:
#     tickets by every state, parts lines / transfers / returns, complaints overdue by severity,
#     webhook deliveries by state, refused connections by reason, rate limits by kind;
#   - every service reports its build (aftersales_service_build_info{service,commit});
#   - every alert has a runbook_url whose page exists and has that anchor (a heading);
#   - with promtool (Debian package prometheus): the alert rules pass `promtool check rules`,
#     and so does every dashboard query as a recording rule (PromQL syntax).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
ROOT=${AS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd -P)}
DASH=$ROOT/deploy/grafana/aftersales.json
ALERTS=$ROOT/deploy/prometheus/alerts.yml
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if jq -e '.panels | length > 0' "$DASH" >/dev/null 2>&1; then
    t_ok "deploy/grafana/aftersales.json is valid JSON with panels"
else
    t_fail "deploy/grafana/aftersales.json is valid JSON with panels" "$(jq . "$DASH" 2>&1 >/dev/null | head -n 3)"
fi
t_eq "every panel has a unique id" "" "$(jq -r '[.panels[].id] | group_by(.) | map(select(length > 1)[0]) | .[]' "$DASH")"
t_eq "every panel that is not a row has at least one query" "" \
    "$(jq -r '.panels[] | select(.type != "row") | select(([.targets[]?.expr] | length) == 0) | .title' "$DASH")"
jq -r '.panels[] | select(.type != "row") | .targets[] | .expr' "$DASH" >"$TMP/exprs"
t_check "the dashboard has more than 25 queries" [ "$(grep -c . "$TMP/exprs")" -gt 25 ]

http GET /metrics "$AS_TOKEN_ADMIN"
t_status "the admin scrapes /metrics" 200
printf '%s\n' "$HTTP_BODY" >"$TMP/scrape"
grep -v '^#' "$TMP/scrape" | sed 's/[{ ].*//' | LC_ALL=C sort -u >"$TMP/names"

# names FILE — the metric names used by the expressions in FILE (one per line).
names() { grep -oE '\b(aftersales|process)_[a-z0-9_]+\b' "$1" | LC_ALL=C sort -u; }
names "$TMP/exprs" >"$TMP/dash-names"
t_eq "every metric name of the dashboard's queries is in the scrape ($(grep -c . "$TMP/dash-names") names)" "" \
    "$(LC_ALL=C comm -23 "$TMP/dash-names" "$TMP/names" | tr '\n' ' ' | sed 's/ $//')"
bad=""
while IFS= read -r e; do
    if ! grep -qE '\b(aftersales|process)_[a-z0-9_]+\b|\bup\{' <<<"$e"; then bad+="$e; "; fi
done <"$TMP/exprs"
t_eq "every dashboard query reads one of our series" "" "$bad"
t_check "the dashboard's gateway variable reads a series of the scrape" \
    grep -q '^aftersales_build_info$' "$TMP/names"

sed -n 's/^ *expr: *//p' "$ALERTS" | grep -v '^|' >"$TMP/alert-exprs"
# Multi-line expressions (expr: |): their lines up to the next key.
awk '/^ *expr: *\|/ {m = 1; next} m && /^ *[a-z_]+:/ {m = 0} m {print}' "$ALERTS" >>"$TMP/alert-exprs"
names "$TMP/alert-exprs" >"$TMP/alert-names"
t_eq "every metric name of the alert rules is in the scrape ($(grep -c . "$TMP/alert-names") names)" "" \
    "$(LC_ALL=C comm -23 "$TMP/alert-names" "$TMP/names" | tr '\n' ' ' | sed 's/ $//')"

# ---- series from the start, zeros included --------------------------------------------------

# has NAME LABELS — a sample NAME{LABELS} (exactly those labels, any value) is in the scrape.
has() { grep -qF "$1{$2} " "$TMP/scrape"; }
missing=""
for st in received adjudicated awaiting_review in_repair awaiting_parts ready closed cancelled declined refunded exchanged; do
    has aftersales_tickets "state=\"$st\"" || missing+="tickets:$st "
done
for st in reserved backordered issued released cancelled; do
    has aftersales_parts_lines "state=\"$st\"" || missing+="parts_lines:$st "
done
for st in pending_approval waiting allocated shipped received cancelled; do
    has aftersales_parts_transfers "state=\"$st\"" || missing+="parts_transfers:$st "
done
for st in owed overdue returned; do has aftersales_parts_returns "status=\"$st\"" || missing+="parts_returns:$st "; done
for sv in general serious critical; do
    has aftersales_complaints_overdue "severity=\"$sv\"" || missing+="complaints_overdue:$sv "
done
for st in pending delivered failed; do
    has aftersales_webhook_deliveries "state=\"$st\"" || missing+="webhook_deliveries:$st "
done
for r in timeout shed full per_address; do
    has aftersales_http_connections_refused_total "reason=\"$r\"" || missing+="connections_refused:$r "
done
for b in principal address inflight; do has aftersales_http_rate_limited_total "by=\"$b\"" || missing+="rate_limited:$b "; done
t_eq "every known label value has its series, zeros included" "" "${missing% }"

mapfile -t SERVICES < <(awk '!/^#/ && $2 == "service" {print $1}' "$ROOT/deploy/services.conf")
missing=""
for s in "${SERVICES[@]}"; do
    grep -qE "^aftersales_service_build_info\{service=\"$s\",commit=\"[0-9a-z]+\"\} 1$" "$TMP/scrape" || missing+="$s "
done
t_eq "every service reports its build (aftersales_service_build_info{service,commit} 1)" "" "${missing% }"
t_check "the gateway reports its build (aftersales_build_info{program=\"as-gateway\"})" \
    grep -qE '^aftersales_build_info\{program="as-gateway",commit="[0-9a-z]+"\} 1$' "$TMP/scrape"

# ---- runbooks ---------------------------------------------------------------------------------

# anchors FILE — the anchors of FILE's headings, as GitHub makes them.
anchors() {
    sed -n 's/^#\{1,6\} \(.*\)$/\1/p' "$1" | tr '[:upper:]' '[:lower:]' |
        sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}
n_alerts=$(grep -c '^ *- alert:' "$ALERTS")
n_urls=$(grep -c '^ *runbook_url:' "$ALERTS")
t_eq "every alert has a runbook_url ($n_alerts alerts)" "$n_alerts" "$n_urls"
bad=""
while IFS= read -r url; do
    file=${url%%#*}
    anchor=${url#*#}
    if [ ! -f "$ROOT/$file" ]; then
        bad+="$url (no $file) "
    elif ! anchors "$ROOT/$file" | grep -qxF "$anchor"; then
        bad+="$url (no such heading) "
    fi
done < <(sed -n 's/^ *runbook_url: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$ALERTS")
t_eq "every runbook_url points at a heading that exists in docs/" "" "${bad% }"

# ---- promtool ---------------------------------------------------------------------------------

if command -v promtool >/dev/null 2>&1; then
    if out=$(promtool check rules "$ALERTS" 2>&1); then
        t_ok "promtool check rules deploy/prometheus/alerts.yml ($(grep -o 'SUCCESS: [0-9]* rules' <<<"$out"))"
    else
        t_fail "promtool check rules deploy/prometheus/alerts.yml" "$out"
    fi
    {
        echo "groups:"
        echo "  - name: dashboard"
        echo "    rules:"
        i=0
        while IFS= read -r e; do
            i=$((i + 1))
            e=${e//\$__rate_interval/5m}
            e=${e//\$instance/.*}
            printf '      - record: dashboard:query_%d\n        expr: %s\n' "$i" "$(jq -Rn --arg e "$e" '$e')"
        done <"$TMP/exprs"
    } >"$TMP/dash-rules.yml"
    if out=$(promtool check rules "$TMP/dash-rules.yml" 2>&1); then
        t_ok "every dashboard query is valid PromQL (promtool, as recording rules)"
    else
        t_fail "every dashboard query is valid PromQL (promtool)" "$out"
    fi
else
    t_ok "promtool checks # skipped: promtool is not installed (Debian package prometheus)"
fi
t_done
