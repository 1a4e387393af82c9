#!/usr/bin/env bash
# Nothing assumes one machine: the multi-host scenario of the fault suite, reduced to fit in
# `make test` — every program in its own network namespace with its own address, PostgreSQL
# reached over the subnet, intake killed with SIGKILL and restarted on its host, warranty and
# intake partitioned for 15 s and healed; nothing is lost (deploy/multihost/run.sh,
# docs/faults.md). Where network namespaces are not permitted it reports one skipped check.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
AS_MH_VAR=${AS_VAR:?}/multihost AS_MH_PREFIX=${AS_MH_PREFIX:-asmt} AS_MH_NET=${AS_MH_NET:-10.99.1} \
    AS_MH_TICKETS=${AS_MH_TICKETS:-150} AS_MH_PARTITION_S=${AS_MH_PARTITION_S:-15} \
    deploy/multihost/run.sh 2>&1 | grep --line-buffered -v -E '^[0-9]+ passed, [0-9]+ failed$'
exit "${PIPESTATUS[0]}"
