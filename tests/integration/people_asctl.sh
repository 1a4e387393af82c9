#!/usr/bin/env bash
# people through asctl: the bootstrap administrator signs in, opens a region and a centre,
# creates a desk user; the desk user signs in, makes a token, opens a ticket whose timeline and
# audit name them; `token revoke` takes effect at once. No SQL, no restart.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
ASCTL=${AS_BIN:-build/bin}/asctl
case $ASCTL in /*) ;; *) ASCTL=${AS_ROOT:-.}/$ASCTL ;; esac
a() { AS_ENV_FILE=/dev/null "$ASCTL" --url "$AS_GATEWAY_URL" "$@"; }

out=$(a login "$AS_ADMIN_LOGIN" --password "$AS_ADMIN_PASSWORD")
t_match "asctl login prints the session as AS_TOKEN" '^export AS_TOKEN=[0-9a-f]{64}$' "$out"
ADMIN=${out#export AS_TOKEN=}
out=$(AS_PASSWORD=wrong-pass-$RUN a login "$AS_ADMIN_LOGIN" 2>&1)
t_eq "a wrong password exits 3 (rejected)" 3 "$(AS_PASSWORD=wrong-pass-$RUN a login "$AS_ADMIN_LOGIN" >/dev/null 2>&1; echo $?)"
t_check "asctl whoami names the administrator" bash -c "'$ASCTL' --url '$AS_GATEWAY_URL' --token '$ADMIN' whoami | grep -q 'Head Office'"
t_check "region create" a --token "$ADMIN" region create "a$RUN" --name "Asctl region"
t_check "center open" a --token "$ADMIN" center open "A$RUN" --name "Asctl centre" --region "a$RUN" --brands Huaxin --categories phone_host
t_match "center list shows it" "A$RUN +Asctl centre +a$RUN +open" "$(a --token "$ADMIN" center list --region "a$RUN")"
t_check "user create (desk)" a --token "$ADMIN" user create "ad.$RUN" --name "Zhao Lei $RUN" --role center --site "A$RUN" --password "Asctl-desk-$RUN"
t_eq "a duplicate user exits 3" 3 "$(a --token "$ADMIN" user create "ad.$RUN" --name x --role center --site "A$RUN" --password "Asctl-desk-$RUN" >/dev/null 2>&1; echo $?)"
t_check "user create (region manager)" a --token "$ADMIN" user create "am.$RUN" --name "Manager $RUN" --role region --region "a$RUN" --password "Asctl-mgr-$RUN"

out=$(a login "ad.$RUN" --password "Asctl-desk-$RUN")
DESK=${out#export AS_TOKEN=}
TOK=$(a --token "$DESK" --json token create --name till --days 7 | jq -r .token)
TOK_ID=$(a --token "$TOK" --json whoami | jq -r .token_id)
t_match "token create gives a token that works" '^K' "$TOK_ID"
imei=$(new_imei)
body=$(jq -nc --arg imei "$imei" --arg inv "$(date -d '-3 days' +%F)" '{
  customer: {name: "Han Mei", phone: "13900001234"},
  device: {category: "phone_host", brand: "Huaxin", model: "HX-10", imei: $imei},
  purchase: {invoice_date: $inv, price_cents: 299900, invoice: true, warranty_card: true},
  fault: {code: "NO_POWER", listed: true}, request: "repair"}')
TICKET=$(a --token "$TOK" --json call POST /v1/tickets "$body" | jq -r .id)
t_match "the desk user's token opens a ticket" '^T' "$TICKET"
t_match "ticket show: the timeline names the desk user" "ad\.$RUN" "$(a --token "$TOK" ticket show "$TICKET")"
t_match "audit: the administrator sees the desk user's act by name" "intake +ad\.$RUN +Zhao Lei" \
    "$(a --token "$ADMIN" audit --subject "ad.$RUN")"
t_check "token revoke" a --token "$DESK" token revoke "$TOK_ID"
t_eq "the revoked token is refused at once (exit 3)" 3 "$(a --token "$TOK" whoami >/dev/null 2>&1; echo $?)"
t_check "user disable" a --token "$ADMIN" user disable "ad.$RUN"
t_eq "the disabled user's session is refused at once (exit 3)" 3 "$(a --token "$DESK" whoami >/dev/null 2>&1; echo $?)"
t_done
