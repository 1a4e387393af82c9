#!/usr/bin/env bash
# The standby drill, short (the full one, 1,000 tickets, is `make test-faults`' scenario
# `standby`; docs/operations.md, "A standby database"): a stack of its own whose services connect
# to "primary, then standby" with target_session_attrs=read-write; a streaming replica made with
# pg_basebackup through a slot, commits synchronous to it; 150 tickets through their journey, the
# primary killed with SIGKILL at a third, the replica promoted; the services follow it without a
# restart, every ticket acknowledged before the kill is on the new primary, every journey ends,
# nothing is applied twice and tests/invariants.sh holds there.
#
# Ports offset from the test stack's (PostgreSQL +60 and +61, programs +165, HTTP +60), state in
# $AS_VAR/standby; tests/faults/standby_drill.sh does the work and its TAP lines are ours.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../faults/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)

while IFS= read -r line; do
    f_relay_tap "" "$line"
done < <(AS_BUILD=${AS_BUILD:-build} AS_BIN=${AS_BIN:-build/bin} AS_SB_VAR=$AS_VAR/standby \
    AS_SB_PG_PORT=$((AS_PG_PORT + 60)) AS_SB_STANDBY_PORT=$((AS_PG_PORT + 61)) \
    AS_SB_PORT_BASE=$((AS_PORT_BASE + 165)) AS_SB_HTTP_PORT=$((AS_HTTP_PORT + 60)) \
    AS_SB_TICKETS=${AS_SB_QUICK_TICKETS:-150} AS_SB_CONCURRENCY=16 AS_SB_DOWN=1 \
    "$ROOT/tests/faults/standby_drill.sh" 2>&1)
t_done
