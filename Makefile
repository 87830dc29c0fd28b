# Quiver build.  Plain GNU make; every .c under src/ is part of the library
# except src/cli/main.c, which is the server's entry point.
#
#   make                 release build: build/release/quiver
#   make BUILD=asan      AddressSanitizer + UndefinedBehaviorSanitizer build
#   make BUILD=tsan      ThreadSanitizer build
#   make unit            build and run the C unit tests (BUILD selects the variant)
#   make valgrind        run the unit tests under valgrind (release build)
#   make fuzz            build the libFuzzer targets with clang and run each
#                        for FUZZ_SECONDS over its committed corpus
#   make format-check    clang-format --dry-run -Werror over the tree
#   make format          reformat in place
#
# gRPC: protoc-c turns proto/*.proto (plus the well-known timestamp.proto
# they import) into C under build/gen/ (shared by every BUILD variant: the
# generated code does not depend on flags); those .pb-c.c files are compiled
# into libquiver with the project's flags minus the warnings generated code
# may trip, and never formatted.

SHELL := /bin/bash
BUILD ?= release
B := build/$(BUILD)
CC ?= cc

# Keep `make` from using its built-in default "cc" when CC comes from the env.
ifeq ($(origin CC),default)
CC := cc
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -Wvla -Wno-format-truncation
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread -Isrc -g $(WARN) -fno-strict-aliasing

ifeq ($(BUILD),release)
  OPT := -O2
  SAN :=
else ifeq ($(BUILD),asan)
  OPT := -O1 -fno-omit-frame-pointer
  SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(BUILD),tsan)
  OPT := -O1 -fno-omit-frame-pointer
  SAN := -fsanitize=thread
else
  $(error unknown BUILD=$(BUILD): use release, asan or tsan)
endif

PKGS := libmicrohttpd yaml-0.1 zlib grpc libprotobuf-c icu-uc icu-i18n
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

GEN := build/gen
CFLAGS_ALL := $(BASE_CFLAGS) -I$(GEN) $(OPT) $(SAN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Generated code: the same flags without -Werror and the stricter warnings.
GEN_CFLAGS := $(filter-out -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla,$(CFLAGS_ALL)) -w
LDFLAGS_ALL := -pthread $(SAN) $(LDFLAGS)
# libstemmer (Snowball) ships no pkg-config file.
LIBS := $(PKG_LIBS) -lstemmer -lm

LIB_SRC := $(filter-out src/cli/main.c,$(shell find src -name '*.c' | sort))
# ---- protobuf code generation ----
PROTO_SRC := $(sort $(wildcard proto/*.proto))
PROTO_WKT := google/protobuf/timestamp.proto
PROTO_INC ?= /usr/include
GEN_STAMP := $(GEN)/.stamp
GEN_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTO_SRC)) \
         $(patsubst %.proto,$(GEN)/%.pb-c.c,$(PROTO_WKT))
GEN_H := $(GEN_C:.c=.h)
GEN_OBJ = $(patsubst $(GEN)/%.c,$(1)/obj/gen/%.o,$(GEN_C))

LIB_OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC)) $(call GEN_OBJ,$(B))
MAIN_OBJ := $(B)/obj/cli/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all unit valgrind fuzz long format format-check clean tools
# Keep intermediate objects (e.g. generated protobuf code in the fuzz build).
.SECONDARY:
all: $(B)/quiver $(B)/quiver-inspect

$(GEN_STAMP): $(PROTO_SRC)
	@rm -rf $(GEN) && mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto -I$(PROTO_INC) $(notdir $(PROTO_SRC)) $(PROTO_WKT)
	@touch $@

$(GEN_C) $(GEN_H): $(GEN_STAMP) ;

# Every object may include generated headers; -MMD then tracks them.
$(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC)) $(MAIN_OBJ): | $(GEN_STAMP)

$(B)/obj/gen/%.o: $(GEN)/%.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GEN_CFLAGS) -c $< -o $@

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/libquiver.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/quiver: $(MAIN_OBJ) $(B)/libquiver.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/quiver-inspect: tools/inspect.c $(B)/libquiver.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libquiver.a $(LDFLAGS_ALL) $(LIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/harness.h $(B)/libquiver.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(B)/libquiver.a $(LDFLAGS_ALL) $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || { echo "** $$t failed"; fail=1; }; done; \
	  exit $$fail

valgrind: $(UNIT_BIN)
	@scripts/valgrind_units.sh $(UNIT_BIN)

# ---- long-running checks (not in the default test run) ----
# Every f32 bit pattern through fmt_f32 and back (about 20-40 minutes on 2 cores).
long: $(B)/long/float_roundtrip
	$(B)/long/float_roundtrip $$(nproc)

$(B)/long/float_roundtrip: tests/long/float_roundtrip.c src/core/fmtfloat.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDFLAGS_ALL) -lm

# ---- fuzzing (clang + libFuzzer) ----
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 30
FB := build/fuzz
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(FB)/%,$(FUZZ_SRC))
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread -Isrc -I$(GEN) -g -O1 -fno-omit-frame-pointer \
   -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror -Wno-unused-parameter \
   $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(FB)/obj/%.o,$(LIB_SRC)) $(call GEN_OBJ,$(FB))

$(patsubst src/%.c,$(FB)/obj/%.o,$(LIB_SRC)): | $(GEN_STAMP)

$(FB)/obj/gen/%.o: $(GEN)/%.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror,$(FUZZ_CFLAGS)) -w -c $< -o $@

$(FB)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FB)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS) -lstemmer -lm

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
	  mkdir -p $(FB)/corpus/$$n; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	      -print_final_stats=1 $(FB)/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | tail -n 12; \
	  test $${PIPESTATUS[0]} -eq 0; done

# ---- style ----
# Only the project's own tracked sources (never virtualenvs or node_modules).
FMT_FILES = $(shell git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]' 'bench/*.[ch]')
format-check:
	clang-format --dry-run -Werror $(FMT_FILES)
format:
	clang-format -i $(FMT_FILES)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
