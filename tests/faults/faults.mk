# tests/faults/faults.mk — the fault suite, included by the top Makefile (`-include`).
#
#   make test-faults        build, then run the whole fault suite against its own stack
#                           (var/faults, PostgreSQL 55580, ports 3100+, HTTP 8590): kill -9 of
#                           every program during a 5,000-ticket run, PostgreSQL immediate
#                           stop, every stream replayed twice, a consumer stopped for a
#                           minute, the multi-host scenario with a network partition
#                           (deploy/multihost/run.sh), and the standby drill (the primary
#                           killed, its synchronous replica promoted:
#                           tests/faults/standby_drill.sh). docs/faults.md.
#   make faults-load        only build the load driver, $(BUILD)/bin/as-faults-load
#
# Settings: FAULTS_SCENARIOS (default all: kill pg sigstop replay multihost standby starts) and
# the AS_FAULTS_* / AS_MH_* / AS_SB_* variables tests/faults/run.sh, deploy/multihost/run.sh and
# tests/faults/standby_drill.sh list.

FAULTS_LOAD := $(BUILD)/bin/as-faults-load

.PHONY: test-faults faults-load

faults-load: $(FAULTS_LOAD)

# The object comes from the top Makefile's rule for tests/%.c.
$(FAULTS_LOAD): $(BUILD)/obj/tests/faults/load.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcurl -ljansson -lpthread -o $@

# `make test` runs tests/integration/faults_quick.sh, which drives load with this program.
build: $(FAULTS_LOAD)

test-faults: all
	@$(MAKE) --no-print-directory $(FAULTS_LOAD)
	@AS_BUILD=$(BUILD) tests/faults/run.sh $(FAULTS_SCENARIOS)
