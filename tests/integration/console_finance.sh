#!/usr/bin/env bash
# Console, issue 18 points 5 and 8 (decision 0032): finance and the administrator write the price
# list (a new version from a date; a new code without its name and a negative price refused at
# their fields; the desk has no form), submit a manufacturer claim, record the manufacturer's
# decision line by line (missing reasons and too-high amounts refused at their lines) and its
# payment (a future date refused at its field, in the API's words); the trial balance and the CSV
# export then show the payment; the accounting periods screen closes a month (the running month
# has no button, a closed one refused beside the button). In a real browser (Debian's chromium,
# playwright-core from build/npm) against the test stack: tests/console/finance.mjs, which
# prints the TAP lines itself and saves the screenshots in docs/console/.
. "$(dirname "$0")/../lib.sh"
if [ ! -x /usr/bin/chromium ] || [ ! -d "${AS_ROOT:-.}/build/npm/node_modules/playwright-core" ]; then
    t_fail "the browser tests can run" "/usr/bin/chromium or build/npm/node_modules/playwright-core is missing (make installs them)"
    t_done
    exit 1
fi
exec node "${AS_ROOT:-.}/tests/console/finance.mjs"
