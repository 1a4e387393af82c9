#!/usr/bin/env bash
# Console: the zh-CN and English message tables of console/i18n.js hold the same keys and the
# same {placeholders} (tests/console/i18n-keys.mjs); a copy with a key missing from one table,
# or a placeholder renamed, is caught.
. "$(dirname "$0")/../lib.sh"

root=${AS_ROOT:-.}
check=$root/tests/console/i18n-keys.mjs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$(node "$check" "$root/console/i18n.js" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(ok|not ok) - ' | sed 's/^/# /'
t_eq "the console's message tables have the same keys and placeholders" 0 "$rc"

# A key only in the Chinese table.
sed "s/^const zh = {/const zh = { 'tidy.only.zh': '只有中文',/" "$root/console/i18n.js" >"$tmp/i18n.js"
out=$(node "$check" "$tmp/i18n.js" 2>&1)
t_eq "a key missing from the English table fails the check" 1 "$?"
t_match "the missing key is named" 'only in zh-CN: tidy\.only\.zh' "$out"

# A placeholder renamed in the English table.
sed "s/'Welcome, {name}'/'Welcome, {user}'/" "$root/console/i18n.js" >"$tmp/i18n.js"
out=$(node "$check" "$tmp/i18n.js" 2>&1)
t_eq "a renamed placeholder fails the check" 1 "$?"
t_match "the message is named" 'placeholders differ in home\.welcome' "$out"

t_done
