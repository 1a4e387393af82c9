#!/usr/bin/env bash
# The customer's status page in a real browser (Debian's chromium, driven by playwright-core
# from build/npm) against the test stack: a phone-sized screen, a wrong last four refused in
# words, the estimate shown without any personal data, the language switch, the customer's
# acceptance recorded on the ticket. The scenario is tests/status/page.mjs; it prints the TAP
# lines itself and saves the screenshots in docs/console/ (status-*.png).
. "$(dirname "$0")/../lib.sh"
if [ ! -x /usr/bin/chromium ] || [ ! -d "${AS_ROOT:-.}/build/npm/node_modules/playwright-core" ]; then
    t_fail "the browser tests can run" "/usr/bin/chromium or build/npm/node_modules/playwright-core is missing (make installs them)"
    t_done
    exit 1
fi
exec node "${AS_ROOT:-.}/tests/status/page.mjs"
