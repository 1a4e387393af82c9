# aftersales — build, run, test, bench. `make help` lists the targets.
#
#   make run     bring the whole backend up in the foreground (Ctrl-C stops it)
#   make up      the same in the background; returns when every service is healthy
#   make down    stop what `make up` started
#   make test    build, then unit and integration tests against a throw-away cluster
#   make demo    play a realistic day against `make up` and print a summary that reconciles
#   make keys    CURVE key pairs of the services and the gateway, and the allow-list (AS_VAR/run/keys)
#   make san     the same build with ASan + UBSan into build/san (make test SAN=1 runs it)

SHELL := /bin/bash
CC    ?= cc
SAN   ?=
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
OPT ?= -O1
else
BUILD ?= build
SANFLAGS =
OPT ?= -O2
endif
GEN   := $(BUILD)/gen
PKGS  := libzmq libprotobuf-c libuv jansson libpq libsystemd
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) $(SANFLAGS) -MMD -MP \
           -Icommon/include -I$(GEN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
           -I/usr/include/postgresql
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzmq -lprotobuf-c -luv -ljansson -lpq -lsystemd)
LDFLAGS := $(SANFLAGS)

PROTOS     := $(wildcard proto/*.proto)
# The list of programs (deploy/services.conf) as the C runtime reads it.
SERVICES_H := $(GEN)/as_services.h
PROTO_C    := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_O    := $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C)) $(BUILD)/obj/gen/registry.o
COMMON_O   := $(patsubst common/src/%.c,$(BUILD)/obj/common/%.o,$(wildcard common/src/*.c))
LIBCOMMON  := $(BUILD)/lib/libascommon.a

SERVICES   := $(shell deploy/services.sh services)
svc_srcs    = $(filter-out services/$(1)/test_%.c services/$(1)/eval_main.c,$(wildcard services/$(1)/*.c))
svc_objs    = $(patsubst services/%.c,$(BUILD)/obj/services/%.o,$(call svc_srcs,$(1)))

BINS := $(patsubst %,$(BUILD)/bin/as-%,$(SERVICES)) $(BUILD)/bin/as-gateway $(BUILD)/bin/asctl \
        $(BUILD)/bin/as-warranty-eval $(BUILD)/bin/as-keygen

UNIT_SRCS  := $(wildcard tests/unit/test_*.c) $(wildcard services/*/test_*.c)
UNIT_BINS  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRCS)))
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(ITEST_SRCS))

# Generated sources are intermediate files to make; keep them.
.SECONDARY:

.PHONY: all deps build run up down test test-unit san clean help format check-format keys demo
.DEFAULT_GOAL := all

# Packages first (a fresh machine has none), then a fresh make that can ask pkg-config.
all: deps
	@$(MAKE) --no-print-directory build
build: $(BINS) $(UNIT_BINS) $(ITEST_BINS) console

# ---- the browser console (console/, served by the gateway at /console/) ----
# npm ci into build/npm from the committed lock file (no install scripts: nothing downloads a
# browser; the tests drive Debian's chromium), then console/ plus the two vendored ES modules
# into build/console. The same directory serves the SAN build.
CONSOLE_OUT := build/console
NPM_DIR     := build/npm
CONSOLE_SRC := $(shell find console -type f ! -name 'package*.json' 2>/dev/null)
.PHONY: console
console: $(CONSOLE_OUT)/.stamp
$(NPM_DIR)/.stamp: console/package.json console/package-lock.json
	@mkdir -p $(NPM_DIR)
	cp console/package.json console/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@
$(CONSOLE_OUT)/.stamp: $(CONSOLE_SRC) $(NPM_DIR)/.stamp
	rm -rf $(CONSOLE_OUT) && mkdir -p $(CONSOLE_OUT)/vendor
	cd console && find . -type f ! -name 'package*.json' -exec cp --parents {} ../$(CONSOLE_OUT)/ \;
	cp $(NPM_DIR)/node_modules/htm/preact/standalone.mjs $(CONSOLE_OUT)/vendor/preact-htm.mjs
	cp $(NPM_DIR)/node_modules/uqr/dist/index.mjs $(CONSOLE_OUT)/vendor/uqr.mjs
	cat $(NPM_DIR)/node_modules/htm/LICENSE $(NPM_DIR)/node_modules/uqr/LICENSE > $(CONSOLE_OUT)/vendor/LICENSES.txt 2>/dev/null || true
	@touch $@

help:
	@sed -n 's/^#   //p' Makefile

deps:
	@deploy/local/deps.sh

# ---- generated code ----
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto $<
$(SERVICES_H): deploy/services.conf deploy/services.sh
	@mkdir -p $(GEN)
	deploy/services.sh c-header $@
$(GEN)/registry.c: $(PROTOS) proto/gen-registry.sh
	@mkdir -p $(GEN)
	proto/gen-registry.sh $@ $(PROTOS)

$(BUILD)/obj/gen/%.o: $(GEN)/%.c $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@

# Everything compiled here may include generated headers: make them first.
$(BUILD)/obj/common/%.o: common/src/%.c | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/obj/services/%.o: services/%.c | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iservices/$(firstword $(subst /, ,$*)) -c $< -o $@
$(BUILD)/obj/tests/%.o: tests/%.c | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iservices/gateway -Iservices/warranty -c $< -o $@

$(LIBCOMMON): $(COMMON_O) $(PROTO_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- programs ----
define svc_rule
$(BUILD)/bin/as-$(1): $(call svc_objs,$(1)) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -lm -o $$@
endef
$(foreach s,$(SERVICES),$(eval $(call svc_rule,$(s))))
$(BUILD)/bin/as-people: LDLIBS += -lsodium
# The commit the gateway reports in aftersales_build_info, and every service in
# aftersales_service_build_info (common/src/server.c).
$(BUILD)/obj/common/server.o $(BUILD)/obj/services/gateway/metrics.o: CFLAGS += -DAS_BUILD_COMMIT='"$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)"'
$(BUILD)/bin/as-notify: LDLIBS += -lcurl -lcrypto

$(BUILD)/bin/as-gateway: $(call svc_objs,gateway) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lhttp_parser -lsodium -o $@
$(BUILD)/bin/asctl: $(call svc_objs,asctl) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcurl -o $@
$(BUILD)/bin/as-keygen: $(BUILD)/obj/services/keygen/main.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/bin/as-warranty-eval: $(BUILD)/obj/services/warranty/engine.o $(BUILD)/obj/services/warranty/eval_main.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -ljansson -o $@

# ---- tests ----
$(BUILD)/tests/test_engine: $(BUILD)/obj/services/warranty/test_engine.o $(BUILD)/obj/services/warranty/engine.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -ljansson -lcmocka -o $@
$(BUILD)/tests/test_http: $(BUILD)/obj/services/gateway/test_http.o $(BUILD)/obj/services/gateway/http.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lhttp_parser -lcmocka -lpthread -o $@
$(BUILD)/tests/test_validate: $(BUILD)/obj/services/intake/test_validate.o $(BUILD)/obj/services/intake/validate.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@
$(BUILD)/gen-test/pbjson_test.pb-c.c: tests/unit/pbjson_test.proto
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(dir $@) -Itests/unit $<
$(BUILD)/tests/test_pbjson: tests/unit/test_pbjson.c $(BUILD)/gen-test/pbjson_test.pb-c.c $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/gen-test $(LDFLAGS) tests/unit/test_pbjson.c $(BUILD)/gen-test/pbjson_test.pb-c.c $(LIBCOMMON) $(LDLIBS) -lcmocka -o $@
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@
$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- running ----
run: all
	@deploy/local/stack.sh run
up: all
	@deploy/local/stack.sh up
down:
	@deploy/local/stack.sh down

test: all
	@tests/run.sh

demo: all
	@AS_BIN=$(BUILD)/bin deploy/demo/day.sh

KEY_NAMES := $(shell deploy/services.sh programs)
keys: all
	@$(BUILD)/bin/as-keygen $${AS_VAR:-var}/run/keys $(KEY_NAMES) && echo "keys in $${AS_VAR:-var}/run/keys"

san:
	@$(MAKE) --no-print-directory SAN=1 build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Fuzzing (libFuzzer, clang): targets and `make fuzz` are defined beside the fuzzers.
-include tests/fuzz/fuzz.mk

# Benchmark (make bench): the load generator and its runner live beside it.
-include tests/bench/bench.mk

# Fault suite (make test-faults) and the multi-host scenario.
-include tests/faults/faults.mk
