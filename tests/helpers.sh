# shellcheck shell=bash
# tests/helpers.sh — the small helpers every shell script of the project shares: the integration
# and fault tests (through tests/lib.sh), the demo day (deploy/demo/day/lib.sh) and the API
# examples (docs/api/examples/_lib.sh). Plain functions, no output, no global state: each is
# written here once and nowhere else.

# sh_date [DATE] — a business date (Asia/Shanghai) as YYYY-MM-DD; DATE as `date -d` reads it.
sh_date() { TZ=Asia/Shanghai date -d "${1:-today}" +%F; }

# days_ago N — the business date N days before today.
days_ago() { sh_date "-$1 days"; }

# days_ahead N — the business date N days after today.
days_ahead() { sh_date "+$1 days"; }

# luhn_digit DIGITS — the Luhn check digit that completes DIGITS.
luhn_digit() {
    local s=$1 sum=0 i d dbl=1
    for ((i = ${#s} - 1; i >= 0; i--)); do
        d=${s:i:1}
        if [ "$dbl" -eq 1 ]; then
            d=$((d * 2))
            [ "$d" -lt 10 ] || d=$((d - 9))
        fi
        sum=$((sum + d))
        dbl=$((1 - dbl))
    done
    printf '%d' $(((10 - sum % 10) % 10))
}

# with_luhn DIGITS — DIGITS followed by their Luhn check digit (an IMEI from its 14 digits).
with_luhn() { printf '%s%s' "$1" "$(luhn_digit "$1")"; }

# new_imei [PREFIX] — a random, Luhn-valid 15-digit IMEI starting with PREFIX (two digits,
# default 35), so that no other ticket looks like the same device.
new_imei() {
    with_luhn "$(printf '%s%06d%06d' "${1:-35}" $((RANDOM % 1000000)) $((RANDOM * 7 % 1000000)))"
}

# wait_until SECONDS COMMAND... — run COMMAND every 0.1 s until it succeeds; status 1 when it
# has not within SECONDS.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
