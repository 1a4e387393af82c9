#!/usr/bin/env bash
# Settlement: money in and out by method. The customer's payment at hand-back is posted to the
# account of the method intake's TicketClosed names (cash 1011, card 1012, WeChat Pay 1013,
# Alipay 1014, bank transfer 1015; none or unknown: 1001 as before). A refund payable (2241) is
# cleared by recording its payout (POST /v1/settlement/refunds/{ticket}/payout, method and
# reference): Dr 2241, Cr the method's account; partial payouts add up, overpaying is refused.
# Events are applied by calling the SQL handlers, as the consumer does.
. "$(dirname "$0")/settlement_invariants.sh"

T=$RUN_TAG
# paid TICKET METHOD — a customer-paid repair of TICKET handed back with METHOD ("" = none).
paid() {
    completed "$(repair_event "$1" SH01 customer "$TODAY")" >/dev/null
    closed "{\"ticket_id\":\"$1\",\"center\":\"SH01\",\"region\":\"east\",\"outcome\":\"repaired\",\"payer\":\"customer\",\"closed_date\":\"$TODAY\"${2:+,\"payment_method\":\"$2\"}}" >/dev/null
    q "SELECT customer_cents FROM charge_sets WHERE ticket_id = '$1'"
}

# --- the hand-back payment by method ---
for pair in cash:1011 card:1012 wechat_pay:1013 alipay:1014 bank_transfer:1015 :1001 bitcoin:1001; do
    m=${pair%%:*} acct=${pair#*:}
    tk="TP$T-${m:-none}"
    amt=$(paid "$tk" "$m")
    t_eq "a hand-back paid by ${m:-an unspecified method} is posted to $acct" "$acct:$amt:0 1122:0:$amt" \
        "$(entry_of "payment:$tk")"
done
t_eq "the charge set remembers the method" "unspecified wechat_pay" \
    "$(q "SELECT string_agg(payment_method, ' ' ORDER BY ticket_id) FROM charge_sets WHERE ticket_id IN ('TP$T-wechat_pay', 'TP$T-none')")"
t_match "the hand-back payment is not rejected for a method it does not know" "^0$" \
    "$(q "SELECT count(*) FROM event_rejects WHERE ticket_id LIKE 'TP$T-%'")"

# --- refunds payable and their payouts ---
RF="TR$T"
closed "{\"ticket_id\":\"$RF\",\"center\":\"SH01\",\"region\":\"east\",\"outcome\":\"refunded\",\"refund_cents\":299900,\"price_cents\":299900,\"payer\":\"seller\",\"closed_date\":\"$TODAY\"}" >/dev/null
http GET "/v1/settlement/refunds/$RF" "$AS_TOKEN_FINANCE"
t_status "finance reads the refund owed to the customer" 200
t_jq "2999.00 is payable and outstanding" '"\(.payable_cents) \(.paid_cents) \(.outstanding_cents)"' "299900 0 299900"
http GET /v1/settlement/refunds "$AS_TOKEN_FINANCE"
t_jq "the refund is listed among those not cleared" "[.refunds[] | select(.ticket_id == \"$RF\")] | length" 1

http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" '{"method":"paypal"}'
t_status "an unknown method is 400" 400
t_jq "the error names the field" '.error.fields[0].field // .fields[0].field // .field' method
http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_CENTER" '{"method":"cash"}'
t_status "a centre may not record payouts" 403
http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" '{"method":"alipay","amount_cents":300000}'
t_status "paying out more than is owed is 422" 422
http POST "/v1/settlement/refunds/TX$T-missing/payout" "$AS_TOKEN_FINANCE" '{"method":"alipay"}'
t_status "a ticket without charges is 404" 404

http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" \
    '{"method":"wechat_pay","amount_cents":100000,"reference":"WX-4200001"}' -H "Idempotency-Key: payout-$T-1"
t_status "1000.00 is paid out by WeChat Pay" 200
t_jq "1999.00 remains outstanding" '"\(.paid_cents) \(.outstanding_cents) \(.payouts[0].method) \(.payouts[0].reference)"' \
    "100000 199900 wechat_pay WX-4200001"
e1=$(jbody '.payouts[0].entry_no')
http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" \
    '{"method":"wechat_pay","amount_cents":100000,"reference":"WX-4200001"}' -H "Idempotency-Key: payout-$T-1"
t_jq "a retried request pays nothing more" '.paid_cents' 100000
t_eq "the payout entry clears the liability against the method's account" "2241:100000:0 1013:0:100000" \
    "$(q "SELECT string_agg(account || ':' || debit_cents || ':' || credit_cents, ' ' ORDER BY line_no) FROM journal_lines WHERE entry_no = $e1")"
http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" '{"method":"bank_transfer","reference":"BOC 778"}'
t_status "the rest is paid by bank transfer" 200
t_jq "nothing is outstanding" '"\(.paid_cents) \(.outstanding_cents)"' "299900 0"
t_eq "refunds payable (2241) is cleared for the ticket" 0 \
    "$(q "SELECT sum(credit_cents - debit_cents) FROM journal_lines WHERE account = '2241' AND ticket_id = '$RF'")"
http POST "/v1/settlement/refunds/$RF/payout" "$AS_TOKEN_FINANCE" '{"method":"cash"}'
t_status "paying a cleared refund again is 409" 409
t_eq "each payout is audited" 2 "$(q "SELECT count(*) FROM audit WHERE action = 'refund_payout' AND entity_id = '$RF'")"
t_ledger_balanced "the ledger balances after payments and payouts"
t_done
