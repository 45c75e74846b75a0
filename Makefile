# spindle build. Plain GNU make; quiet unless V=1.
#
#   make                    library, bench programs and examples (MODE=release)
#   make MODE=debug|asan|tsan
#   make runner             the test runner, build/<mode>/tests/runner
#   make test               suite in release, asan and tsan (+ models)
#   make test MODE=asan     one mode only (or TEST_MODES="asan tsan")
#   make test RUNNER_ARGS="-f task_"   arguments for each runner
#   make bench              bench programs and peers (bench/peers/: tokio, Go), then
#                           bench/suite.sh: one table, CSV and SVG in bench/results/
#   make bench QUICK=1      the same as a smoke run (smaller sizes, 3 rounds)
#   make bench-build        spindle's bench programs and the peers (no run)
#   make bench-core         spindle's bench programs only, then bench/run.sh $(BENCH_ARGS)
#   make demo               the runtime demo, then kv vs memcached and httpd vs
#                           nginx (DEMO=runtime|kv|http for one part)
#   make check-headers      every public header compiles on its own
#   make check-arch         context switch on x86-64 and aarch64 (qemu)
#   make clean
#
# Outputs go to build/<mode>/. Missing system packages are installed by
# mk/deps.sh before anything is compiled.

MODE ?= release
CC ?= gcc
# make's built-in default for CC is "cc"; spindle's default is gcc.
ifeq ($(origin CC),default)
CC := gcc
endif

MODES := release debug asan tsan
ifeq ($(filter $(MODE),$(MODES)),)
$(error MODE must be one of: $(MODES) (got '$(MODE)'))
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' '$(1)' '$(2)'
endif

BUILD := build/$(MODE)
OBJ := $(BUILD)/obj

# Target architecture: from the compiler's triple, falling back to uname -m.
ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine 2>/dev/null)))
ifeq ($(ARCH),)
ARCH := $(shell uname -m)
endif
ifeq ($(ARCH),arm64)
ARCH := aarch64
endif

# --- Flags -----------------------------------------------------------------

COMMON_CFLAGS := -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -pthread -Iinclude -Isrc -g
DEPFLAGS = -MMD -MP

MODE_CFLAGS_release := -O2
MODE_CFLAGS_debug := -O0 -DSP_DEBUG
MODE_CFLAGS_asan := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                    -fno-sanitize-recover=undefined -DSP_DEBUG -DSP_TEST_SANITIZED
MODE_CFLAGS_tsan := -O1 -fsanitize=thread -DSP_DEBUG -DSP_TEST_SANITIZED

MODE_LDFLAGS_asan := -fsanitize=address,undefined
MODE_LDFLAGS_tsan := -fsanitize=thread

# gcc on x86-64 zeroes a struct of more than 64 bytes with `rep stosq`,
# whose start-up costs ~20 ns here: every I/O call builds one (struct
# sp__io_args, 120 bytes), and it was 3.9% of a loop of sp_write calls.
# Vector stores up to 256 bytes, memset() beyond. clang has no such option
# (and emits vector stores already).
MEMSET_FLAG := -mmemset-strategy=vector_loop:256:noalign,libcall:-1:noalign
ifeq ($(ARCH),x86_64)
LIB_STRING_CFLAGS := $(shell $(CC) $(MEMSET_FLAG) -x c -c -o /dev/null /dev/null 2>/dev/null && echo '$(MEMSET_FLAG)')
endif

CFLAGS_ALL := $(COMMON_CFLAGS) $(MODE_CFLAGS_$(MODE)) $(EXTRA_CFLAGS)
LIB_CFLAGS := $(CFLAGS_ALL) $(LIB_STRING_CFLAGS) -DSPINDLE_BUILDING -fvisibility=hidden -fPIC
LDFLAGS_ALL := -pthread $(MODE_LDFLAGS_$(MODE)) $(EXTRA_LDFLAGS)
LDLIBS_ALL := -luring -pthread

# --- Sources ---------------------------------------------------------------

LIB_C := $(sort $(shell find src -name '*.c' 2>/dev/null))
LIB_S := $(sort $(wildcard src/arch/*-$(ARCH).S))
LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(LIB_C)) $(patsubst %.S,$(OBJ)/%.o,$(LIB_S))

LIB_A := $(BUILD)/libspindle.a
LIB_SO := $(BUILD)/libspindle.so
MAP := src/spindle.map

VARIANT_C := $(sort $(wildcard tests/variant-*.c))
TEST_C := $(sort $(filter-out $(VARIANT_C),$(wildcard tests/*.c)))
TEST_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(TEST_C)) \
             $(patsubst %.c,$(OBJ)/%.O2.o,$(VARIANT_C)) \
             $(patsubst %.c,$(OBJ)/%.O3.o,$(VARIANT_C))
RUNNER := $(BUILD)/tests/runner

HARNESS_C := $(sort $(wildcard bench/harness*.c))
BENCH_C := $(sort $(filter-out $(HARNESS_C),$(wildcard bench/*.c)))
HARNESS_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(HARNESS_C))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_C))

EXAMPLE_C := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_C))

# examples/httpd: a directory of files linked into one program; the runner
# links all of them but main.c for tests/test-http.c. The request parser
# also builds as a libFuzzer target (make fuzz-http, clang) and as a corpus
# replay program that make test runs.
HTTPD_C := $(sort $(wildcard examples/httpd/*.c))
HTTPD_LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(filter-out examples/httpd/main.c,$(HTTPD_C)))
HTTPD_BIN := $(BUILD)/examples/httpd
FUZZ_HTTP_REPLAY := $(BUILD)/tests/fuzz-http-replay
FUZZ_HTTP_C := tests/fuzz/http/fuzz.c tests/fuzz/replay.c

# Multi-file programs: examples/kv (its objects but main.o are linked into
# the runner too, for tests/test-kv.c) and tools/loadgen.
KV_C := $(sort $(wildcard examples/kv/*.c))
KV_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(KV_C))
KV_LIB_OBJS := $(filter-out %/main.o,$(KV_OBJS))
KV_BIN := $(BUILD)/examples/kv
LOADGEN_C := $(sort $(wildcard tools/loadgen/*.c))
LOADGEN_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(LOADGEN_C))
LOADGEN_BIN := $(BUILD)/tools/loadgen
STEPCOUNT_BIN := $(BUILD)/tools/stepcount
# The kv parser's fuzz corpus, replayed by a driver built in each mode.
KV_FUZZ_SRC := examples/kv/proto.c examples/kv/store.c examples/kv/session.c \
               examples/kv/engine_local.c tests/fuzz/kv/fuzz.c
KV_REPLAY := $(BUILD)/tests/kv-fuzz-replay
KV_REPLAY_OBJS := $(patsubst %.c,$(OBJ)/%.o,tests/fuzz/kv/fuzz.c tests/fuzz/replay.c)

ALL_OBJS := $(LIB_OBJS) $(TEST_OBJS) $(HARNESS_OBJS) \
            $(patsubst %.c,$(OBJ)/%.o,$(BENCH_C) $(EXAMPLE_C) $(HTTPD_C) $(FUZZ_HTTP_C)) $(KV_OBJS) $(LOADGEN_OBJS) \
            $(KV_REPLAY_OBJS)

PUBLIC_HEADERS := $(sort $(wildcard include/spindle/*.h))

# Which modes "make test" runs: all three, or only the MODE named on the
# command line. TEST_MODES from the environment or command line wins.
ifeq ($(origin MODE),command line)
TEST_MODES ?= $(MODE)
TEST_MODELS ?= 0
else
TEST_MODES ?= release asan tsan
TEST_MODELS ?= 1
endif

# --- Top-level targets -----------------------------------------------------

.PHONY: all lib runner tests bench-build bench examples tools demo test check-headers \
        check-arch deps clean fuzz-kv kv-fuzz-replay fuzz-http http-fuzz-replay FORCE
.DEFAULT_GOAL := all

all: lib bench-build examples tools
lib: $(LIB_A) $(LIB_SO)
runner tests: $(RUNNER)
bench-build: $(BENCH_BINS)
examples: $(EXAMPLE_BINS) $(KV_BIN) $(HTTPD_BIN)
tools: $(LOADGEN_BIN) $(STEPCOUNT_BIN)
kv-fuzz-replay: $(KV_REPLAY)
http-fuzz-replay: $(FUZZ_HTTP_REPLAY)

# libFuzzer target for the kv protocol (clang only; not part of make test,
# which replays the committed corpus through $(KV_REPLAY) instead):
#   make fuzz-kv && build/fuzz/kv-fuzz tests/fuzz/kv/corpus
fuzz-kv:
	@mkdir -p build/fuzz
	$(call msg,FUZZ,build/fuzz/kv-fuzz)
	$(Q)clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    $(KV_FUZZ_SRC) -o build/fuzz/kv-fuzz

test:
	$(Q)MAKE='$(MAKE)' TEST_MODES='$(TEST_MODES)' TEST_MODELS='$(TEST_MODELS)' \
	    RUNNER_ARGS='$(RUNNER_ARGS)' sh mk/test-all.sh

bench:
	$(Q)$(MAKE) --no-print-directory MODE=release bench-build
	$(Q)sh bench/suite.sh $(if $(filter 1,$(QUICK)),-q) $(SUITE_ARGS)

# The peers (bench/peers/build.sh installs their toolchains from Debian and
# builds them into build/peers/) come with bench-build only when it is asked
# for by name (make bench-build, make bench, make test's last step), so plain
# make needs no Rust or Go.
.PHONY: bench-c bench-peers bench-core
bench-build: $(if $(filter bench-build bench-peers,$(MAKECMDGOALS)),bench-peers)
bench-c: $(BENCH_BINS)
bench-peers:
	$(Q)sh bench/peers/build.sh

bench-core:
	$(Q)$(MAKE) --no-print-directory MODE=release bench-c
	$(Q)BENCH_DIR=build/release/bench bash bench/run.sh $(BENCH_ARGS)

# The README's first command: the runtime at work (examples/demo), then the
# servers built on it against the programs people would use instead: kv
# against memcached, httpd against nginx (each script installs what it
# needs and stops what it starts). DEMO=runtime|kv|http runs one part.
DEMO ?= all
demo:
ifneq ($(filter all runtime,$(DEMO)),)
	$(Q)$(MAKE) --no-print-directory MODE=release lib build/release/examples/demo
	$(Q)./build/release/examples/demo
endif
ifneq ($(filter all kv,$(DEMO)),)
	$(Q)bash mk/demo-kv.sh
endif
ifneq ($(filter all http,$(DEMO)),)
	$(Q)bash mk/demo-http.sh
endif

check-headers: | deps
	$(Q)for h in $(patsubst include/%,%,$(PUBLIC_HEADERS)) spindle.h; do \
	    printf '  %-6s %s\n' HDR "$$h"; \
	    echo "#include \"$$h\"" | $(CC) -x c -fsyntax-only $(COMMON_CFLAGS) -Werror - \
	        || exit 1; \
	done

# The context switch on x86-64 (gcc, clang) and aarch64 (cross gcc under
# qemu-user); installs the cross tools if it can. Not part of make test.
check-arch:
	$(Q)bash tests/arch/run.sh

deps:
	$(Q)CC='$(CC)' sh mk/deps.sh build

clean:
	$(call msg,CLEAN,build)
	$(Q)rm -rf build

# --- Flag tracking ---------------------------------------------------------
# Objects depend on a file holding the compiler and flags, rewritten only when
# they change, so "make CC=clang" after a gcc build rebuilds everything.

FLAGS_FILE := $(BUILD)/flags
FLAGS_TEXT := $(CC) | $(LIB_CFLAGS) | $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(FLAGS_FILE): FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(FLAGS_TEXT)' ]; then \
	    printf '%s\n' '$(FLAGS_TEXT)' > $@; fi

FORCE:

# --- Compile ---------------------------------------------------------------

$(ALL_OBJS): $(FLAGS_FILE) | deps

$(OBJ)/src/%.o: src/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OBJ)/src/%.o: src/%.S
	$(call msg,AS,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c $< -o $@

# The same variant source twice: the later -O wins over the mode's.
$(OBJ)/tests/%.O2.o: tests/%.c
	$(call msg,CC,$< [O2])
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O2 -DVARIANT=O2 $(DEPFLAGS) -c $< -o $@

$(OBJ)/tests/%.O3.o: tests/%.c
	$(call msg,CC,$< [O3])
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O3 -DVARIANT=O3 $(DEPFLAGS) -c $< -o $@

$(OBJ)/tests/%.o: tests/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(OBJ)/bench/%.o: bench/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(OBJ)/examples/%.o: examples/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(OBJ)/tools/%.o: tools/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

# --- Link ------------------------------------------------------------------

$(LIB_A): $(LIB_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(MAP)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -shared -o $@ $(LIB_OBJS) -Wl,--version-script=$(MAP) \
	    $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(RUNNER): $(TEST_OBJS) $(KV_LIB_OBJS) $(HTTPD_LIB_OBJS) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $(TEST_OBJS) $(KV_LIB_OBJS) $(HTTPD_LIB_OBJS) $(LIB_A) $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(KV_BIN): $(KV_OBJS) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(LOADGEN_BIN): $(LOADGEN_OBJS) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL) -lm

# Needs nothing of spindle: it runs programs under ptrace (bench/icount.sh).
$(STEPCOUNT_BIN): $(OBJ)/tools/stepcount.o
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(KV_REPLAY): $(KV_REPLAY_OBJS) $(KV_LIB_OBJS) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(OBJ)/bench/%.o $(HARNESS_OBJS) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/examples/%: $(OBJ)/examples/%.o $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(HTTPD_BIN): $(patsubst %.c,$(OBJ)/%.o,$(HTTPD_C)) $(LIB_A)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(FUZZ_HTTP_REPLAY): $(patsubst %.c,$(OBJ)/%.o,$(FUZZ_HTTP_C)) $(OBJ)/examples/httpd/parse.o
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

# libFuzzer on the request parser (clang only):
#   make fuzz-http && build/fuzz/http -max_total_time=60 tests/fuzz/http/corpus
fuzz-http: | deps
	$(call msg,FUZZ,build/fuzz/http)
	@mkdir -p build/fuzz
	$(Q)clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -Iexamples/httpd tests/fuzz/http/fuzz.c examples/httpd/parse.c -o build/fuzz/http

-include $(ALL_OBJS:.o=.d)
