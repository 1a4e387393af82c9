# tests/bench/bench.mk — the benchmark, included by the top Makefile (`-include`).
#
#   make bench         build everything and the load generator, bring up an isolated stack
#                      (var/bench, its own ports), run pgbench and the measurements, bring the
#                      stack down; results in build/bench/ (results.json, latency.svg,
#                      summary.txt). BENCH_SECONDS (default 20) is the length of each phase.
#   make bench-build   only build the load generator, $(BUILD)/bin/as-bench
#   make bench-fair    a desk's single-ticket read while another principal floods list reads,
#                      with and without the per-principal limit (tests/bench/fair.sh, its own
#                      stack: var/bench-fair, its own ports); results in build/bench/fair.txt
#   make bench-console the console's pages with 100,000 tickets loaded by SQL: p50 / p99 / max
#                      of each page through the HTTP API (tests/bench/console.sh, its own stack:
#                      var/bench-console, its own ports); results in build/bench/console.txt
#
# docs/benchmark.md explains the figures; tests/bench/run.sh lists every setting.

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_OBJS := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(BENCH_SRCS))
BENCH_BIN  := $(BUILD)/bin/as-bench
BENCH_OUT  ?= build/bench

.PHONY: bench bench-build bench-fair bench-console

bench-build: $(BENCH_BIN)

# Objects come from the top Makefile's rule for tests/%.c (generated headers first).
$(BENCH_BIN): $(BENCH_OBJS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lhttp_parser -lm -o $@

bench: build $(BENCH_BIN)
	@BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) tests/bench/run.sh

bench-fair: build
	@BUILD=$(BUILD) AS_BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) tests/bench/fair.sh

bench-console: build
	@BUILD=$(BUILD) AS_BUILD=$(BUILD) BENCH_OUT=$(BENCH_OUT) tests/bench/console.sh
