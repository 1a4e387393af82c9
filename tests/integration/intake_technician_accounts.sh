#!/usr/bin/env bash
# Technicians are staff logins (issue 17, point 4): intake checks the login it is given against
# its copy of the people service's accounts (kept from people.UserChanged). Registering a
# technician with an unknown login, a login of another role, or a login of another centre's staff
# is 422 unknown_technician and registers nothing; scheduling an order with a technician whose
# account was disabled since is refused the same way and leaves the order as it was; the workload
# shows only technicians whose account is active; enabling the account again restores both.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
day=$(TZ=Asia/Shanghai date -d '+2 days' +%F)
TECH=tech.acct.$RUN  # staff of SH01
OTHER=tech.gz.$RUN   # staff of GZ01
FIN=fin.acct.$RUN    # a finance account
registered() { q intake "SELECT count(*) FROM technicians WHERE login = '$1'"; }
tech() { # login center [active]
    http POST /v1/technicians "$AS_TOKEN_CENTER" "$(jq -nc --arg l "$1" --arg c "$2" --argjson a "${3:-true}" \
        '{login: $l, name: "Technician", center: $c, skills: ["phone_host"], active: $a}')"
}
order() {
    http POST /v1/service-orders "$AS_TOKEN_CENTER" "$(jq -nc --arg d "$day" --arg p "137$(printf '%08d' $((RANDOM * 3 % 100000000)))" '{
      customer: {name: "Qian Yu", phone: $p}, address: "5 Yan An Road, Shanghai",
      category: "phone_host", brand: "Huaxin", model: "HX-10", fault: "no power",
      window_start: ($d + "T01:00:00Z"), window_end: ($d + "T03:00:00Z")}')"
    ORDER=$(jbody .id)
}
in_workload() {
    http GET "/v1/technicians/workload?date=$day&center=SH01" "$AS_TOKEN_CENTER"
    jbody "[.rows[] | select(.login == \"$1\")] | length"
}
account_active() { q intake "SELECT active FROM staff_accounts WHERE login = '$1'"; }

staff_account "$TECH" SH01
t_status "the admin creates a staff account at SH01 for the technician" 201
t_eq "intake's copy of the accounts has it" t "$(account_active "$TECH")"
staff_account "$OTHER" GZ01
t_status "... and one at GZ01" 201
http POST /v1/users "$AS_TOKEN_ADMIN" "$(jq -nc --arg l "$FIN" '{login: $l, display_name: "Finance", role: "finance", password: "Ledger-pass-2026!"}')"
t_status "... and a finance account" 201
t_poll "intake's copy has the finance account too" finance q intake "SELECT role FROM staff_accounts WHERE login = '$FIN'"

# --- registering -----------------------------------------------------------------------------------
tech "nobody.$RUN" SH01
t_status "an unknown login is refused" 422
t_jq "... as unknown_technician" .error.code unknown_technician
t_match "... saying it is no staff login" 'not a staff login' "$(jbody .error.message)"
tech "$FIN" SH01
t_status "a finance account's login is refused" 422
t_jq "... as unknown_technician" .error.code unknown_technician
t_match "... saying its role" 'finance account' "$(jbody .error.message)"
http POST /v1/technicians "$AS_TOKEN_ADMIN" "$(jq -nc --arg l "$OTHER" \
    '{login: $l, name: "Technician", center: "SH01", skills: ["phone_host"]}')"
t_status "another centre's staff is refused for SH01 (even by the admin)" 422
t_jq "... as unknown_technician" .error.code unknown_technician
t_match "... naming the centre they belong to" 'staff of centre GZ01' "$(jbody .error.message)"
t_eq "nothing refused was registered" "0 0 0" \
    "$(registered "nobody.$RUN") $(registered "$FIN") $(registered "$OTHER")"
tech "$TECH" SH01
t_status "the centre's own staff login is registered" 201
t_eq "... and is in the workload" 1 "$(in_workload "$TECH")"

# --- scheduling -----------------------------------------------------------------------------------
order
t_status "a desk opens an order" 201
http POST "/v1/service-orders/$ORDER/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$TECH\"}"
t_status "it is scheduled with the technician" 200

http PATCH "/v1/users/$TECH" "$AS_TOKEN_ADMIN" '{"active": false}'
t_status "people disables the technician's account" 200
t_poll "intake's copy follows" f account_active "$TECH"
order
first=$ORDER
http POST "/v1/service-orders/$first/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$TECH\"}"
t_status "an order cannot be scheduled with a disabled account's technician" 422
t_jq "... unknown_technician" .error.code unknown_technician
t_match "... saying the account is disabled" 'disabled' "$(jbody .error.message)"
t_eq "... the order stays requested without a technician" "requested/-" \
    "$(q intake "SELECT state || '/' || coalesce(technician, '-') FROM service_orders WHERE id = '$first'")"
t_eq "the workload no longer offers the technician" 0 "$(in_workload "$TECH")"
tech "$TECH" SH01 false
t_status "the desk may still deactivate the departed technician" 200
t_jq "... who is inactive" .active false
tech "$TECH" SH01 true
t_status "but not make them active again while the account is disabled" 422

http PATCH "/v1/users/$TECH" "$AS_TOKEN_ADMIN" '{"active": true}'
t_status "people enables the account again" 200
t_poll "intake's copy follows" t account_active "$TECH"
tech "$TECH" SH01 true
t_status "the technician is active again" 200
http POST "/v1/service-orders/$first/schedule" "$AS_TOKEN_CENTER" "{\"technician\":\"$TECH\"}"
t_status "the order is now scheduled with them" 200
t_eq "... and the workload offers them again" 1 "$(in_workload "$TECH")"

t_done
