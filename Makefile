# otshim: one non-recursive Makefile.
#   make            build build/libotshim.so (+ test programs)
#   make test       install missing deps, build, check the layers, run every test (TAP),
#                   print "N passed, N failed"
#   make check-layers   the runtime's include rule (scripts/check-layers)
#   make demo       install missing deps, build, run the demo service under the shim
#   make bench      otshim against other profilers: cost and truth (tests/bench; ~20 min)
#   make install    PREFIX=/usr/local DESTDIR=: library, otshim command, man page (make uninstall)
#   make SANITIZER=address|undefined|thread|asan   instrumented build in build-$(SANITIZER)/
#   make test-asan / test-tsan   the end-to-end suite under ASan+UBSan / TSan (see below)

CC      ?= gcc
PROTO   ?= /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto

comma := ,
SANITIZER ?=
ifeq ($(SANITIZER),)
B := build
SANFLAGS :=
else ifneq ($(filter $(SANITIZER),address undefined thread asan),)
B := build-$(SANITIZER)
SANFLAGS := -fsanitize=$(subst asan,address$(comma)undefined,$(SANITIZER)) \
            -fno-sanitize-recover=all -fno-omit-frame-pointer
else
$(error SANITIZER must be address, undefined, thread or asan (address+undefined), not '$(SANITIZER)')
endif

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wundef -Werror=implicit-function-declaration \
          -Werror=incompatible-pointer-types
OPT     ?= -O2
CFLAGS  = $(OPT) -g -fPIC -fvisibility=hidden -pthread -D_GNU_SOURCE $(SANFLAGS) \
          -I$(B)/gen -Iruntime
LIBS    = -ljemalloc -lm -lunwind -lunwind-x86_64 -lprotobuf-c -ldw -lelf -lz -ldl -lpthread -lnghttp2

SHIM_SRC := $(sort $(wildcard shim/*.c))
RT_SRC   := $(sort $(wildcard runtime/*/*.c))
GEN_SRC  := $(B)/gen/profile.pb-c.c $(B)/gen/otlp_trace.pb-c.c $(B)/gen/otlp_profiles.pb-c.c
SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
RT_OBJ   := $(RT_SRC:%.c=$(B)/%.o)
GEN_OBJ  := $(GEN_SRC:.c=.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(B)/%)
SRV_SRC  := $(filter-out tests/servers/common.c,$(sort $(wildcard tests/servers/*.c)))
SRV_BIN  := $(SRV_SRC:%.c=$(B)/%)

LIB := $(B)/libotshim.so

all: $(LIB) $(UNIT_BIN) $(SRV_BIN)

$(B)/gen/profile.pb-c.c $(B)/gen/profile.pb-c.h: $(PROTO)
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -I$(dir $(PROTO)) $(PROTO)

# Our own OTLP subset (runtime/proto/): upstream's field numbers, our message set.
$(B)/gen/otlp_trace.pb-c.c $(B)/gen/otlp_trace.pb-c.h: runtime/proto/otlp_trace.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iruntime/proto $<
$(B)/gen/otlp_profiles.pb-c.c $(B)/gen/otlp_profiles.pb-c.h: runtime/proto/otlp_profiles.proto runtime/proto/otlp_trace.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iruntime/proto $<

# Generated code is not ours to keep warning-clean beyond -Wall.
$(B)/gen/%.pb-c.o: $(B)/gen/%.pb-c.c
	$(CC) $(OPT) -g -fPIC -fvisibility=hidden $(SANFLAGS) -I$(B)/gen -c $< -o $@

$(B)/%.o: %.c | $(B)/gen/profile.pb-c.h $(B)/gen/otlp_trace.pb-c.h $(B)/gen/otlp_profiles.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -MMD -MP -c $< -o $@

$(LIB): $(SHIM_OBJ) $(RT_OBJ) $(GEN_OBJ) shim/exports.map
	$(CC) -shared $(SANFLAGS) -o $@ $(SHIM_OBJ) $(RT_OBJ) $(GEN_OBJ) \
	    -Wl,--version-script=shim/exports.map -Wl,--no-undefined -Wl,-z,nodelete $(LIBS)

# The runtime as an archive, so unit tests link just the modules they exercise.
$(B)/librt.a: $(RT_OBJ) $(GEN_OBJ)
	@rm -f $@ # a fresh archive: members of moved or removed modules must not linger
	ar rcs $@ $^

$(B)/tests/unit/%: tests/unit/%.c $(B)/librt.a tests/t.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Itests -MMD -MP $< -o $@ $(B)/librt.a $(LIBS)

# Toy servers: plain programs, no runtime; frame pointers and -O1 keep stacks honest.
# Each links tests/servers/common.c, the helpers they share.
$(B)/tests/servers/%: tests/servers/%.c tests/servers/common.c tests/servers/common.h
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -fno-omit-frame-pointer -pthread -D_GNU_SOURCE $(SANFLAGS) $(WARN) $(filter %.c,$^) -o $@

# The allocator battery (C++17): -fno-builtin so every malloc/free pair is really called.
ALLOC_BIN := $(patsubst %.cc,$(B)/%,$(sort $(wildcard tests/alloc/*.cc)))
all: $(ALLOC_BIN)
$(B)/tests/alloc/%: tests/alloc/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O1 -g -fno-builtin -fno-omit-frame-pointer -pthread $(SANFLAGS) -Wall -Wextra -Werror $< -o $@

deps:
	@scripts/install-deps.sh

# The unit tests run three times more under ASan and UBSan; the shim itself runs under
# TSan in tests/integration/tsan.sh.
test: deps check-layers
	$(MAKE) all
	$(MAKE) SANITIZER=address all
	$(MAKE) SANITIZER=undefined all
	$(MAKE) SANITIZER=thread all
	tests/run.sh $(B) build-address build-undefined

# base < sample < track < profile < emit < boot: no file includes a higher layer.
check-layers:
	@scripts/check-layers

demo: deps
	$(MAKE) all
	scripts/demo.sh $(B)

bench: deps
	$(MAKE) all
	tests/bench/run.sh $(B)

noopt:
	$(MAKE) OPT=-O0

clean:
	rm -rf build build-address build-undefined build-thread build-asan

# ---- install ----
#   make install   [PREFIX=/usr/local] [DESTDIR=]: the library, the otshim command, its
#                  Python package (otshim_lib) and the man page; make uninstall removes
#                  exactly those.
# Installing into the live system (DESTDIR empty) runs ldconfig (LDCONFIG=... to choose
# which) and says so when PREFIX/lib is not where the loader looks for a bare name
# (LD_PRELOAD=libotshim.so); otshim run always preloads the full path.
PREFIX   ?= /usr/local
DESTDIR  ?=
LDCONFIG ?=
INSTALL  ?= install
# bin/otshim finds its package in ../lib/otshim/otshim_lib/.
CLI_PKG  := $(sort $(wildcard scripts/otshim_lib/*.py))
INSTALLED := $(PREFIX)/lib/libotshim.so $(PREFIX)/bin/otshim $(PREFIX)/share/man/man1/otshim.1 \
             $(CLI_PKG:scripts/%=$(PREFIX)/lib/otshim/%)

install: $(LIB) scripts/otshim $(CLI_PKG) doc/otshim.1
	@[ -z "$(SANITIZER)" ] || { echo "make install: installs the plain build; run it without SANITIZER" >&2; exit 1; }
	$(INSTALL) -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(PREFIX)/lib/otshim/otshim_lib" "$(DESTDIR)$(PREFIX)/share/man/man1"
	$(INSTALL) -m 0755 $(LIB) "$(DESTDIR)$(PREFIX)/lib/libotshim.so"
	$(INSTALL) -m 0755 scripts/otshim "$(DESTDIR)$(PREFIX)/bin/otshim"
	$(INSTALL) -m 0644 $(CLI_PKG) "$(DESTDIR)$(PREFIX)/lib/otshim/otshim_lib/"
	$(INSTALL) -m 0644 doc/otshim.1 "$(DESTDIR)$(PREFIX)/share/man/man1/otshim.1"
	@$(LDCONFIG_LIVE)

# The command writes no bytecode; a __pycache__ there is a packager's compileall.
uninstall:
	rm -f $(foreach f,$(INSTALLED),"$(DESTDIR)$(f)") "$(DESTDIR)$(PREFIX)/share/man/man1/otshim.1.gz"
	rm -rf "$(DESTDIR)$(PREFIX)/lib/otshim/otshim_lib/__pycache__"
	rmdir "$(DESTDIR)$(PREFIX)/lib/otshim/otshim_lib" "$(DESTDIR)$(PREFIX)/lib/otshim" 2>/dev/null || true
	@$(LDCONFIG_LIVE)

# Only for a live install: a DESTDIR tree is someone else's to register.
LDCONFIG_LIVE = if [ -z "$(DESTDIR)" ]; then \
        ldc='$(LDCONFIG)'; \
        [ -n "$$ldc" ] || ldc=$$(PATH="$$PATH:/sbin:/usr/sbin" command -v ldconfig || true); \
        if [ -n "$$ldc" ]; then echo "$$ldc"; "$$ldc" || true; fi; \
        if [ -f "$(PREFIX)/lib/libotshim.so" ] && \
           ! { [ -n "$$ldc" ] && "$$ldc" -p 2>/dev/null | grep -qF "=> $(PREFIX)/lib/libotshim.so"; }; then \
            echo "note: $(PREFIX)/lib is not in the loader's search path (ld.so.conf), so a bare"; \
            echo "      LD_PRELOAD=libotshim.so will not find the library: use"; \
            echo "      LD_PRELOAD=$(PREFIX)/lib/libotshim.so, or otshim run, which passes the full path"; \
        fi; \
    fi

.PHONY: install uninstall

.PHONY: all deps test demo bench noopt clean check-layers

-include $(RT_OBJ:.o=.d) $(SHIM_OBJ:.o=.d) $(UNIT_BIN:=.d)

# ==== fuzzing (tests/fuzz/) ====================================================
# This section, tests/fuzz/ and tests/integration/fuzz.sh belong together. The parsers
# that read what a host's peers send and what its environment says are fuzzed with
# libFuzzer, ASan and UBSan: Debian's clang-14 builds each target straight from the
# runtime sources it needs (librt.a is gcc's, without coverage instrumentation).
#   make fuzz          every target for FUZZ_SECONDS (300) each; FUZZ_TARGETS=http for one
#   make fuzz-smoke    every target for FUZZ_SMOKE_SECONDS (6) each: what `make test` runs
# Both speak TAP (tests/fuzz/run.sh); crash artifacts go to a scratch dir under $TMPDIR.
FUZZ_CC            ?= clang-14
FUZZ_B             := build-fuzz
FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 6
FUZZ_TARGETS       ?= http traceparent cfg h2
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE -Iruntime -Itests/fuzz \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

# The runtime sources each target links.
$(FUZZ_B)/fuzz_http:        runtime/track/http.c
$(FUZZ_B)/fuzz_traceparent: runtime/track/traceparent.c runtime/track/http.c runtime/base/hex.c \
                            runtime/emit/file_names.c
$(FUZZ_B)/fuzz_cfg:         runtime/base/cfg.c runtime/base/log.c runtime/base/libc.c
$(FUZZ_B)/fuzz_h2:          runtime/track/h2.c runtime/base/libnghttp2.c runtime/base/log.c \
                            runtime/base/libc.c
# ... and the libraries (the HTTP/2 parser's HPACK decoder is libnghttp2's)
FUZZ_LIBS_h2 := -lnghttp2

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard runtime/*.h runtime/*/*.h) | deps
	@mkdir -p $(FUZZ_B)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(filter %.c,$^) -o $@ $(FUZZ_LIBS_$*)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# `make test` builds the fuzzers with everything else; tests/run.sh then runs
# tests/integration/fuzz.sh, which is `make fuzz-smoke`, and counts it as one test file.
test: fuzz-build

fuzz-clean:
	rm -rf $(FUZZ_B)
clean: fuzz-clean

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-clean
# ==== end of fuzzing ===========================================================

# ==== sanitizers: the end-to-end suite instrumented =============================
#   make test-asan   build-asan/ (SANITIZER=asan: -fsanitize=address,undefined, one
#                    build rather than two, which halves the run) + its unit tests
#   make test-tsan   build-thread/ (ThreadSanitizer) + its unit tests
# Each runs tests/run.sh on that build with OTSHIM_TEST_SANITIZER set: lib.sh then
# preloads the sanitizer's runtime before the instrumented library wherever a test
# preloads the shim (an instrumented library cannot load otherwise), sends every report
# to a file and fails the test if one exists (lib.sh says which options, and why).
# What cannot hold is skipped with its reason (lib.sh san_check, TAP "# SKIP"):
#  - heap profiles: the runtime, preloaded first, owns malloc, shadowing our interposers;
#  - creation stacks: its pthread_create must start each thread, so none is registered;
#  - pre-fork workers: ASan's allocator is not fork-safe; TSan kills the child of a
#    multi-threaded fork that starts a thread (each worker starts its watchdog);
#  - RLIMIT_AS (its shadow), the allocator battery (its runtime's malloc, not ours),
#    install.sh (plain build only), fuzz.sh and tsan.sh (sanitized already), and a few
#    CPU-share bounds a slowed runtime on a loaded machine decides.
# Not part of `make test` (its 660 s budget): each gets SAN_BUDGET seconds, and
# SAN_TIMEOUT per file, for instrumented code runs 2-15x slower.
SAN_BUDGET  ?= 1800
SAN_TIMEOUT ?= 400
test-asan: deps
	$(MAKE) SANITIZER=asan all
	OTSHIM_TEST_SANITIZER=address OTSHIM_TEST_BUDGET=$(SAN_BUDGET) \
	    OTSHIM_TEST_TIMEOUT=$(SAN_TIMEOUT) tests/run.sh build-asan
test-tsan: deps
	$(MAKE) SANITIZER=thread all
	OTSHIM_TEST_SANITIZER=thread OTSHIM_TEST_BUDGET=$(SAN_BUDGET) \
	    OTSHIM_TEST_TIMEOUT=$(SAN_TIMEOUT) tests/run.sh build-thread
.PHONY: test-asan test-tsan
# ==== end of sanitizers =========================================================
