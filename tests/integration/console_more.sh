#!/usr/bin/env bash
# Console, issue 18: customers, the hotline's call log, promised deadlines and service levels,
# the quality report, the customers' notifications, the integrators' webhooks, a manufacturer
# claim's page and its printed claim form, on-site service orders and the station scorecard, in a
# real browser (Debian's chromium, driven by playwright-core from build/npm) against the test
# stack. The scenarios are
# tests/console/more.mjs; it prints the TAP lines itself and saves the screenshots in
# docs/console/.
. "$(dirname "$0")/../lib.sh"
if [ ! -x /usr/bin/chromium ] || [ ! -d "${AS_ROOT:-.}/build/npm/node_modules/playwright-core" ]; then
    t_fail "the browser tests can run" "/usr/bin/chromium or build/npm/node_modules/playwright-core is missing (make installs them)"
    t_done
    exit 1
fi
exec node "${AS_ROOT:-.}/tests/console/more.mjs"
