# tests/fuzz/fuzz.mk — libFuzzer targets, included by the top Makefile (`-include`).
#
#   make fuzz-build          build every fuzzer into $(BUILD)/fuzz/bin (clang, ASan + UBSan)
#   make fuzz                build, then run each fuzzer FUZZ_SECONDS (default 120) over its corpus
#   make fuzz-corpus         regenerate the seed corpus in tests/fuzz/corpus (tests/fuzz/make-corpus.sh)
#
# Everything a fuzzer needs is compiled here from source with the fuzzing flags — common/src,
# the generated protobuf C in $(GEN) and the service files under test — into $(BUILD)/fuzz/obj,
# so the regular build's objects (gcc, no coverage instrumentation) are never mixed in.
# docs/fuzzing.md explains the targets.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 120
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_OBJ     := $(FUZZ_DIR)/obj
FUZZ_BIN     := $(FUZZ_DIR)/bin

FUZZ_TARGETS := fuzz_envelope fuzz_pbjson fuzz_intake_validate fuzz_warranty_eval fuzz_http \
                fuzz_gateway_query

FUZZ_SAN    := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_BASE   := -std=c11 -D_GNU_SOURCE -g -O1 -MMD -MP -Icommon/include -I$(GEN) -I$(FUZZ_DIR)/gen \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/postgresql
# Our own files must build without a warning; code under test is compiled with its warnings
# shown but not fatal (clang warns about a few things gcc does not, and those files are not ours).
FUZZ_CFLAGS_OWN  := $(FUZZ_BASE) $(FUZZ_SAN) -Wall -Wextra -Werror -Itests/fuzz \
                    -Iservices/gateway -Iservices/intake -Iservices/warranty
FUZZ_CFLAGS_SUT  := $(FUZZ_BASE) $(FUZZ_SAN) -Wall -Wextra -Wno-unused-parameter

FUZZ_COMMON_O := $(patsubst common/src/%.c,$(FUZZ_OBJ)/common/%.o,$(wildcard common/src/*.c))
FUZZ_GEN_O    := $(patsubst $(GEN)/%.c,$(FUZZ_OBJ)/gen/%.o,$(PROTO_C)) $(FUZZ_OBJ)/gen/registry.o
FUZZ_LIB      := $(FUZZ_DIR)/lib/libascommon.a
FUZZ_GW_O     := $(patsubst services/%.c,$(FUZZ_OBJ)/services/%.o,\
                   $(filter-out services/gateway/main.c services/gateway/test_%.c,\
                     $(wildcard services/gateway/*.c)))
FUZZ_TYPES_H  := $(FUZZ_DIR)/gen/fuzz_types.h

.PHONY: fuzz fuzz-build fuzz-corpus

fuzz-build: $(patsubst %,$(FUZZ_BIN)/%,$(FUZZ_TARGETS)) $(FUZZ_BIN)/corpus_pack

fuzz: fuzz-build
	AS_BUILD=$(BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-corpus: $(FUZZ_BIN)/corpus_pack
	AS_BUILD=$(BUILD) tests/fuzz/make-corpus.sh

# ---- objects ----

# Every registry type name, for the fuzzers that try all of them (fuzz_pbjson, fuzz_envelope).
$(FUZZ_TYPES_H): $(PROTOS) tests/fuzz/gen-types.sh
	@mkdir -p $(dir $@)
	tests/fuzz/gen-types.sh $@ $(PROTOS)

$(FUZZ_OBJ)/gen/%.o: $(GEN)/%.c $(PROTO_C)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS_SUT) -c $< -o $@
$(FUZZ_OBJ)/common/%.o: common/src/%.c | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS_SUT) -c $< -o $@
$(FUZZ_OBJ)/services/%.o: services/%.c | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS_SUT) -Iservices/$(firstword $(subst /, ,$*)) -c $< -o $@
$(FUZZ_OBJ)/tests/fuzz/%.o: tests/fuzz/%.c $(FUZZ_TYPES_H) | $(PROTO_C) $(SERVICES_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS_OWN) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_COMMON_O) $(FUZZ_GEN_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- fuzzers ----

FUZZ_LINK = $(FUZZ_CC) $(FUZZ_SAN) $^

FUZZ_UTIL_O := $(FUZZ_OBJ)/tests/fuzz/fuzz_util.o
FUZZ_PB_O   := $(FUZZ_OBJ)/tests/fuzz/fuzz_pb.o $(FUZZ_UTIL_O)
FUZZ_HTTP_O := $(FUZZ_OBJ)/tests/fuzz/http_driver.o $(FUZZ_UTIL_O)

$(FUZZ_BIN)/fuzz_envelope: $(FUZZ_OBJ)/tests/fuzz/fuzz_envelope.o $(FUZZ_PB_O) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -ljansson -lprotobuf-c -o $@
$(FUZZ_BIN)/fuzz_pbjson: $(FUZZ_OBJ)/tests/fuzz/fuzz_pbjson.o $(FUZZ_PB_O) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -ljansson -lprotobuf-c -o $@
$(FUZZ_BIN)/fuzz_intake_validate: $(FUZZ_OBJ)/tests/fuzz/fuzz_intake_validate.o \
                                  $(FUZZ_OBJ)/services/intake/validate.o $(FUZZ_PB_O) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -ljansson -lprotobuf-c -o $@
$(FUZZ_BIN)/fuzz_warranty_eval: $(FUZZ_OBJ)/tests/fuzz/fuzz_warranty_eval.o \
                                $(FUZZ_OBJ)/services/warranty/engine.o $(FUZZ_UTIL_O)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -ljansson -o $@
$(FUZZ_BIN)/fuzz_http: $(FUZZ_OBJ)/tests/fuzz/fuzz_http.o $(FUZZ_HTTP_O) \
                       $(FUZZ_OBJ)/services/gateway/http.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -luv -lhttp_parser -ljansson -lprotobuf-c -lzmq -lpq -o $@
# The gateway's request handling (route matching, auth, query and body mapping) lives in
# services/gateway/main.c as static functions: the fuzzer includes that file (renaming main).
$(FUZZ_OBJ)/tests/fuzz/fuzz_gateway_query.o: services/gateway/main.c
$(FUZZ_BIN)/fuzz_gateway_query: $(FUZZ_OBJ)/tests/fuzz/fuzz_gateway_query.o \
                                $(FUZZ_HTTP_O) $(FUZZ_GW_O) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) $(LDLIBS) -lhttp_parser -lsodium -o $@

# The seed-corpus helper: packs JSON into protobuf (tests/fuzz/make-corpus.sh). Not a fuzzer.
$(FUZZ_BIN)/corpus_pack: tests/fuzz/corpus_pack.c $(FUZZ_TYPES_H) $(PROTO_C) $(GEN)/registry.c \
                         common/src/pbjson.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out $(FUZZ_SAN) -MMD -MP,$(FUZZ_CFLAGS_OWN)) \
	    -fsanitize=address,undefined -Wno-unused-parameter \
	    $(filter %.c,$^) -ljansson -lprotobuf-c -o $@

-include $(shell find $(FUZZ_OBJ) -name '*.d' 2>/dev/null)
