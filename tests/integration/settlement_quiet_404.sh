#!/usr/bin/env bash
# A settlement read of something that does not exist is answered 404 and is not an ERROR in
# PostgreSQL's log (reads run through read_call, common/sql/020_read_call.sql, which turns the
# read's fail() into a value); a real fault would still be logged.
. "$(dirname "$0")/../lib.sh"

LOG=$AS_VAR/log/postgres.log
before=$(grep -c 'ERROR:  not_found' "$LOG" 2>/dev/null)
for u in /v1/settlement/charges/00000000-0000-0000-0000-000000000000 \
    /v1/settlement/invoices/INV-DOES-NOT-EXIST \
    /v1/settlement/claims/00000000-0000-0000-0000-000000000000 \
    /v1/settlement/entries/987654321; do
    http GET "$u" "$AS_TOKEN_FINANCE"
    t_status "GET $u is 404" 404
    t_eq "GET $u names the error" not_found "$(jbody .error.code)"
done
sleep 0.5 # the log is written asynchronously
after=$(grep -c 'ERROR:  not_found' "$LOG" 2>/dev/null)
t_eq "no 'ERROR: not_found' in PostgreSQL's log for those reads" "$before" "$after"
t_done
