#!/usr/bin/env bash
# intake: finding customers and devices (issue 17, point 4). GET /v1/devices finds devices by
# IMEI, serial or VIN prefix, paged by device key and scoped like device reads; GET
# /v1/customers?imei= finds a device's owner; a ticket may name an existing customer
# (customer_id: name and phone from the record; unknown or out of sight is 422 unknown_customer)
# and an existing device (device_key: its identifiers from the registry; 422 unknown_device).
. "$(dirname "$0")/../lib.sh"

RUN=$RANDOM$RANDOM
PHONE=1373$(printf '%07d' $((RUN % 10000000)))
# two IMEIs of this run with a common 12-digit prefix, and a serial of its own
PFX=86$(printf '%010d' $((RUN % 10000000000)))
I1=$(with_luhn "${PFX}01")
I2=$(with_luhn "${PFX}02")
SERIAL="SNF$RUN"
body() { # imei [jq filter]
    jq -nc --arg imei "$1" --arg ph "$PHONE" --arg sn "$SERIAL" \
        --arg inv "$(TZ=Asia/Shanghai date -d '-20 days' +%F)" "{
      customer: {name: \"Find Me $RUN\", phone: \$ph},
      device: {category: \"phone_host\", brand: \"Huaxin\", model: \"HX-10\", imei: \$imei, serial: \$sn},
      purchase: {invoice_date: \$inv, price_cents: 199900, invoice: true, warranty_card: true},
      fault: {code: \"NO_POWER\", listed: true}, request: \"repair\"} ${2:+| $2}"
}

http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1")"
t_status "a ticket registers the customer and the first device" 201
CU=$(jbody .customer_id)
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I2" '.device.serial = null')"
t_status "a second device of the same customer" 201

# --- devices by prefix, paged, in scope ---
http GET "/v1/devices?imei=$PFX" "$AS_TOKEN_ADMIN"
t_status "admin finds devices by IMEI prefix" 200
t_eq "both devices, in key order, without history" "$I1 $I2 0" \
    "$(jbody '[.devices[].key] | join(" ")') $(jbody '[.devices[] | (.history // []) | length] | add')"
http GET "/v1/devices?imei=$PFX&limit=1" "$AS_TOKEN_ADMIN"
t_eq "a page of one names the next" "$I1 $I1" "$(jbody '[.devices[0].key, .next] | join(" ")')"
http GET "/v1/devices?imei=$PFX&limit=1&after=$I1" "$AS_TOKEN_ADMIN"
t_eq "the next page" "$I2" "$(jbody '[.devices[].key] | join(" ")')"
http GET "/v1/devices?serial=$SERIAL" "$AS_TOKEN_CENTER"
t_eq "the desk finds its device by serial prefix" "$I1" "$(jbody '[.devices[].key] | join(" ")')"
http GET "/v1/devices?imei=$PFX" "$AS_TOKEN_REGION"
t_eq "the region of the centre finds them" 2 "$(jbody '.devices | length')"
http GET "/v1/devices?imei=$PFX" "$AS_TOKEN_CENTER_B"
t_eq "another centre's desk finds nothing" 0 "$(jbody '.devices | length')"
http GET "/v1/devices?imei=$PFX" "$AS_TOKEN_FINANCE"
t_status "finance may not search devices" 403
http GET "/v1/devices" "$AS_TOKEN_ADMIN"
t_status "a search needs a prefix" 400
t_match "naming the field" "imei" "$(jbody .error.message)"
http GET "/v1/devices?vin=AB" "$AS_TOKEN_ADMIN"
t_status "a prefix of fewer than 4 characters is refused" 400
http GET "/v1/devices?imei=$PFX&limit=0" "$AS_TOKEN_ADMIN"
t_status "a limit out of range is refused" 400

# --- customers by device ---
http GET "/v1/customers?imei=$I2" "$AS_TOKEN_CENTER"
t_eq "the desk finds the owner by IMEI" "$CU" "$(jbody '[.customers[].id] | join(" ")')"
http GET "/v1/customers?imei=$I2" "$AS_TOKEN_CENTER_B"
t_eq "another centre's desk does not" 0 "$(jbody '.customers | length')"

# --- a ticket for an existing customer and device ---
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" "del(.customer) | .customer_id = \"$CU\"")"
t_status "a ticket names an existing customer by id" 201
t_eq "name and phone come from the record" "$CU Find Me $RUN $PHONE" \
    "$(jbody '[.customer_id, .customer.name, .customer.phone] | join(" ")')"
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" "del(.customer, .device) | .customer_id = \"$CU\" | .device_key = \"$I2\"")"
t_status "and an existing device by its key" 201
t_eq "the device comes from the registry" "$I2 Huaxin HX-10 phone_host" \
    "$(jbody '[.device.imei, .device.brand, .device.model, .device.category] | join(" ")')"
T3=$(jbody .id)
http GET "/v1/devices/$I2" "$AS_TOKEN_ADMIN"
t_eq "the device's history holds the new ticket" 1 "$(jbody "[.history[] | select(.id == \"$T3\")] | length")"
n0=$(q intake "SELECT count(*) FROM tickets WHERE customer_id = '$CU'")
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" 'del(.customer) | .customer_id = "CU99999999"')"
t_status "an unknown customer id is 422" 422
t_jq "unknown_customer" .error.code unknown_customer
http POST /v1/tickets "$AS_TOKEN_CENTER_B" "$(body "$I1" "del(.customer) | .customer_id = \"$CU\"")"
t_status "another centre's customer is 422 as well (existence is not revealed)" 422
t_jq "the same code" .error.code unknown_customer
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" 'del(.device) | .device_key = "869999999999999"')"
t_status "an unknown device key is 422" 422
t_jq "unknown_device" .error.code unknown_device
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" "del(.customer) | .customer_id = \"$CU\" | .device_key = \"$I2\"")"
t_status "a device given with another device's key is 400" 400
http POST /v1/tickets "$AS_TOKEN_CENTER" "$(body "$I1" 'del(.customer)')"
t_status "without a customer or a customer id: 400" 400
t_match "naming the field" "customer" "$(jbody .error.message)"
t_eq "no refusal opened a ticket" "$n0" "$(q intake "SELECT count(*) FROM tickets WHERE customer_id = '$CU'")"

# --- asctl ---
ASCTL=${AS_BIN:-build/bin}/asctl
t_match "asctl device list --imei finds both" "$I2" \
    "$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_ADMIN" device list --imei "$PFX")"
t_match "asctl customer list --imei finds the owner" "$CU" \
    "$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" customer list --imei "$I1")"

t_done
