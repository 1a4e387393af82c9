#!/usr/bin/env bash
# asctl's table printer through the gateway: `asctl ticket list` lines up columns holding Chinese
# customer names and device models (two terminal columns per character), cutting a value that is
# too long at a character boundary, never inside a UTF-8 sequence.
. "$(dirname "$0")/../lib.sh"

ASCTL=${AS_BIN:-${AS_BUILD:-build}/bin}/asctl
export LC_ALL=C.UTF-8

IMEI=$(new_imei)
INV=$(TZ=Asia/Shanghai date -d '-40 days' +%F)
open_ticket() {
    http POST /v1/tickets "$AS_TOKEN_CENTER" "$(jq -nc --arg imei "$IMEI" --arg inv "$INV" \
        --arg name "$1" --arg model "$2" '{
        customer: {name: $name, phone: "13900002222"},
        device: {category: "phone_host", brand: "Huaxin", model: $model, imei: $imei, imei_label: $imei},
        purchase: {invoice_date: $inv, price_cents: 399900, invoice: true, warranty_card: true},
        fault: {code: "NO_POWER", description: "不开机", listed: true},
        request: "repair"}')"
}
open_ticket "王小明" "华鑫 HX-10"
t_status "a ticket with a Chinese customer name is opened" 201
open_ticket "司马相如先生" "HX-10 尊享版超长型号名称"
t_status "and one whose name and model are wider than their columns" 201
open_ticket "Li Na" "HX-10"
t_status "and one in Latin letters" 201

out=$("$ASCTL" --url "$AS_GATEWAY_URL" --token "$AS_TOKEN_CENTER" ticket list --imei "$IMEI")
t_eq "asctl ticket list answers (exit 0)" 0 "$?"
t_note "$out"
t_eq "it shows the three tickets under a header and a rule" 5 "$(wc -l <<<"$out" | tr -d ' ')"
widths=$(while IFS= read -r line; do printf '%s\n' "$line" | wc -L; done <<<"$out" | sort -u | paste -sd' ' -)
t_eq "every line has the same width in terminal columns" 1 "$(wc -w <<<"$widths" | tr -d ' ')"
# Where the CATEGORY column starts, in terminal columns, on every line.
starts=$(while IFS= read -r line; do
    pre=${line%%phone_host*}
    [ "$pre" = "$line" ] && continue
    printf '%s\n' "$pre" | wc -L
done <<<"$out" | sort -u | paste -sd' ' -)
t_eq "the column after the names starts at the same place on every row" 1 "$(wc -w <<<"$starts" | tr -d ' ')"
t_check "a name wider than its column is cut at a character boundary" grep -q '司马相如先 ' <<<"$out"
t_check "the output is valid UTF-8" iconv -f UTF-8 -t UTF-8 <<<"$out"
t_done
