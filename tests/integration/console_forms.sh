#!/usr/bin/env bash
# Console, issues 18 and 19: the forms to open an on-site service order (then scheduled with a
# technician and dispatched) and to register a technician with a staff account, the scorecard's
# weight versions (a new one added) and each centre's market-maintenance reward, and the
# proactive calls in the call-back desk's list, in a real browser (Debian's chromium, driven by
# playwright-core from build/npm) against the test stack. The scenarios are
# tests/console/forms.mjs; it prints the TAP lines itself and saves the screenshots in
# docs/console/.
. "$(dirname "$0")/../lib.sh"
if [ ! -x /usr/bin/chromium ] || [ ! -d "${AS_ROOT:-.}/build/npm/node_modules/playwright-core" ]; then
    t_fail "the browser tests can run" "/usr/bin/chromium or build/npm/node_modules/playwright-core is missing (make installs them)"
    t_done
    exit 1
fi
exec node "${AS_ROOT:-.}/tests/console/forms.mjs"
