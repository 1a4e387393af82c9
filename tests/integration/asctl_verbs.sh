#!/usr/bin/env bash
# asctl's declared verbs (ASCTL_CALL rows of the command tables, run by asctl_verb_run) against the
# real gateway: the options of a verb are exactly its query parameters and body fields (another
# one is refused before anything is sent), required options and the argument count are checked
# (exit 2), the argument is escaped into the path, goes to a body field (`arg`) or picks one item
# of a list (`one`), fixed fields and flags reach the body, and the answers print as tables or JSON.
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
ASCTL=${AS_BIN:-build/bin}/asctl
case $ASCTL in /*) ;; *) ASCTL=${AS_ROOT:-.}/$ASCTL ;; esac
a() { AS_ENV_FILE=/dev/null "$ASCTL" --url "$AS_GATEWAY_URL" "$@"; }
# rc COMMAND... — the exit code of an asctl call, its output dropped.
rc() { a "$@" >/dev/null 2>&1; echo $?; }

# --- the command line is checked before anything is sent ------------------------------------
out=$(a --token "$AS_TOKEN_ADMIN" complaint list --colour red 2>&1)
t_eq "an option the verb does not have exits 2" 2 "$(rc --token "$AS_TOKEN_ADMIN" complaint list --colour red)"
t_match "and names it" "complaint list: unknown option '--colour'" "$out"
out=$(a --token "$AS_TOKEN_ADMIN" webhook create --url http://127.0.0.1:9/x 2>&1)
t_match "missing required options are named together" \
    "webhook create needs --url, --types and --secret \(asctl webhook create --help\)" "$out"
t_eq "and exit 2" 2 "$(rc --token "$AS_TOKEN_ADMIN" webhook create --url http://127.0.0.1:9/x)"
t_eq "a verb with an argument refuses none" 2 "$(rc --token "$AS_TOKEN_ADMIN" complaint show)"
t_eq "and two" 2 "$(rc --token "$AS_TOKEN_ADMIN" complaint show C1 C2)"
t_eq "a list verb refuses an argument" 2 "$(rc --token "$AS_TOKEN_ADMIN" center list X)"
t_eq "an option that takes a value needs one" 2 "$(rc --token "$AS_TOKEN_ADMIN" center list --region)"
t_eq "a whole-number field is checked" 2 \
    "$(rc --token "$AS_TOKEN_ADMIN" token create --name t --days soon)"

# --- query parameters, the argument in the path, JSON and tables ------------------------------
t_check "a region is created (the argument goes to the body's code)" \
    a --token "$AS_TOKEN_ADMIN" region create "v$RUN" --name "Verb region $RUN"
t_check "a centre is opened in it" a --token "$AS_TOKEN_ADMIN" center open "V$RUN" \
    --name "Verb centre" --region "v$RUN" --brands Huaxin --categories phone_host
t_eq "the list options become query parameters (--region)" "V$RUN" \
    "$(a --token "$AS_TOKEN_ADMIN" --json center list --region "v$RUN" | jq -r '[.centers[].code] | join(",")')"
t_match "the table view prints the row" "V$RUN +Verb centre +v$RUN +open" \
    "$(a --token "$AS_TOKEN_ADMIN" center show "V$RUN")"
t_eq "--json after the verb prints the answer as JSON" "V$RUN" \
    "$(a --token "$AS_TOKEN_ADMIN" center show "V$RUN" --json | jq -r .code)"
t_eq "an argument with a slash is escaped into one path segment (not found, exit 3)" 3 \
    "$(rc --token "$AS_TOKEN_ADMIN" center show "V$RUN/suspend")"
t_check "a body option reaches the service (--reason)" \
    a --token "$AS_TOKEN_ADMIN" center suspend "V$RUN" --reason "verb test"
t_eq "the centre is suspended" suspended "$(a --token "$AS_TOKEN_ADMIN" --json center show "V$RUN" | jq -r .state)"

# --- a list view names the next page ----------------------------------------------------------
for n in 1 2; do
    t_check "customer $n is registered" a --token "$AS_TOKEN_ADMIN" customer add \
        --name "Verb Customer $RUN $n" --phones "1390$((RUN % 10000000 + n))" --center SH01
done
out=$(a --token "$AS_TOKEN_ADMIN" customer list --name "Verb Customer $RUN" --limit 1)
t_match "one row of a longer list is followed by the cursor of the next page" \
    $'\n\nmore: asctl customer list --after [A-Z0-9]+$' "$out"
t_eq "the table shows one customer under its header and rule" 1 "$(grep -c "Verb Cust" <<<"$out")"

cid=$(a --token "$AS_TOKEN_ADMIN" --json customer list --name "Verb Customer $RUN" --limit 1 | jq -r '.customers[0].id')
out=$(a --token "$AS_TOKEN_ADMIN" customer show "$cid")
t_eq "customer show prints its fields as label lines" 1 \
    "$(grep -cE "^name +Verb Customer $RUN [12]\$" <<<"$out")"
t_match "the first line is the id" '^id +C' "$out"
t_eq "and no empty address line" 0 "$(grep -c '^address' <<<"$out")"

# --- fixed body fields: user disable/enable send {"active": false|true} -----------------------
t_check "a user is created" a --token "$AS_TOKEN_ADMIN" user create "vu.$RUN" --name "Verb User" \
    --role region --region "v$RUN" --password "Verb-pass-$RUN"
t_eq "user disable sends active: false" false \
    "$(a --token "$AS_TOKEN_ADMIN" --json user disable "vu.$RUN" | jq -r .active)"
t_eq "user enable sends active: true" true \
    "$(a --token "$AS_TOKEN_ADMIN" --json user enable "vu.$RUN" | jq -r .active)"

# --- a flag that sets false: parts scrap --good ------------------------------------------------
SKU="T$RUN-VERB"
http POST /v1/parts/skus "$AS_TOKEN_WAREHOUSE" \
    "{\"sku\":\"$SKU\",\"name\":\"verb test part\",\"brand\":\"Huaxin\",\"unit_cost_cents\":1000,\"list_price_cents\":2000}"
t_status "a test SKU is added" 201
http POST /v1/parts/receipts "$AS_TOKEN_WAREHOUSE" "{\"site\":\"SH01\",\"sku\":\"$SKU\",\"qty\":2}"
t_status "two units are received at SH01" 201
t_eq "scrap without --good takes defective units (there are none: refused, exit 3)" 3 \
    "$(rc --token "$AS_TOKEN_CENTER" parts scrap --site SH01 --sku "$SKU" --qty 1 --reason test)"
t_eq "scrap --good sends defective: false and takes a good unit" 1 \
    "$(a --token "$AS_TOKEN_CENTER" --json parts scrap --site SH01 --sku "$SKU" --qty 1 --reason dropped --good | jq -r .on_hand_after)"
t_eq "parts stock reads it back through its query options" 1 \
    "$(a --token "$AS_TOKEN_CENTER" --json parts stock --site SH01 --sku "$SKU" | jq -r '.items[0].on_hand // .on_hand')"

# --- an optional argument: the list, or one item ----------------------------------------------
t_eq "settlement refunds without an argument is the list" array \
    "$(a --token "$AS_TOKEN_FINANCE" --json settlement refunds | jq -r '.refunds | type')"
t_eq "with an unknown ticket it asks for that one (not found, exit 3)" 3 \
    "$(rc --token "$AS_TOKEN_FINANCE" settlement refunds "TNONE$RUN")"
t_eq "settlement invoices takes its list options" 0 \
    "$(rc --token "$AS_TOKEN_FINANCE" settlement invoices --year 2026 --limit 1)"

# --- nested body fields: customer.phone, complaint.cause -------------------------------------
phone="1380$(printf '%07d' $((RUN % 10000000)))"
out=$(a --token "$AS_TOKEN_CENTER" --json hotline record --direction inbound --channel phone \
    --category complaint --outcome callback_needed --summary "verb test" --phone "$phone" \
    --name "Verb Caller" --cause attitude --description "nobody called back (verb test)")
t_eq "hotline record --phone/--name fill the call's customer" "$phone Verb Caller" \
    "$(jq -r '"\(.customer_phone) \(.customer_name)"' <<<"$out")"
t_eq "and --cause/--description its complaint" true "$(jq -r .complaint_pending <<<"$out")"
out=$(a --token "$AS_TOKEN_CENTER" --json service-order create --name "Verb Home" --phone "$phone" \
    --address "1 Verb Road, Shanghai" --category phone_host --fault "no power" \
    --from "$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z)" --to "$(date -u -d '+1 day' +%Y-%m-%dT12:00:00Z)" 2>&1)
t_eq "service-order create nests --name and --phone as the customer" "Verb Home $phone" \
    "$(jq -r '"\(.customer.name // .customer_name) \(.customer.phone // .customer_phone)"' <<<"$out" 2>/dev/null)"

# --- service-order confirm maps --rating to the rating field ----------------------------------
out=$(a --token "$AS_TOKEN_CENTER" service-order confirm "SO$RUN" --by "Verb" --rating 5 2>&1)
t_eq "service-order confirm with --rating is sent (an unknown order: exit 3)" 3 \
    "$(rc --token "$AS_TOKEN_CENTER" service-order confirm "SO$RUN" --by "Verb" --rating 5)"
t_match "and the service answers it" "^asctl: 404" "$out"
t_eq "a rating that is not a whole number is refused before sending" 2 \
    "$(rc --token "$AS_TOKEN_CENTER" service-order confirm "SO$RUN" --by "Verb" --rating high)"
t_done
