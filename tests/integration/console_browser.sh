#!/usr/bin/env bash
# Console: the screens in a real browser (Debian's chromium, driven by playwright-core from
# build/npm) against the test stack — sign-in, a returning customer's refund from intake to the
# printed receipt, another centre's ticket by URL, the language switch, the role's menu, a
# tablet's width. The scenarios are tests/console/desk.mjs; it prints the TAP lines itself and
# saves the screenshots in docs/console/.
. "$(dirname "$0")/../lib.sh"
if [ ! -x /usr/bin/chromium ] || [ ! -d "${AS_ROOT:-.}/build/npm/node_modules/playwright-core" ]; then
    t_fail "the browser tests can run" "/usr/bin/chromium or build/npm/node_modules/playwright-core is missing (make installs them)"
    t_done
    exit 1
fi
exec node "${AS_ROOT:-.}/tests/console/desk.mjs"
