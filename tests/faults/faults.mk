# tests/faults/faults.mk — the fault suite, included by the top Makefile (`-include`).
#
#   make test-faults        build, then run the whole fault suite against its own stack
#                           (var/faults, PostgreSQL 55580, ports 3100+, HTTP 8590): kill -9 of
#                           every program during a 5,000-ticket run, PostgreSQL immediate
#                           stop, every stream replayed twice, a consumer stopped for a
#                           minute, and the multi-host scenario with a network partition
#                           (deploy/multihost/run.sh). docs/faults.md.
#   make faults-load        only build the load driver, $(BUILD)/bin/as-faults-load
#
# Settings: FAULTS_SCENARIOS (default all: kill pg sigstop replay multihost) and the
# AS_FAULTS_* / AS_MH_* variables tests/faults/run.sh and deploy/multihost/run.sh list.

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
