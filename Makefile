# holdfast: GNU make, C11, pkg-config.
#
#   make            release build in build/release
#   make run        install run deps, build, start holdfastd -f with etc/holdfast.conf
#   make check      install test deps; build release (gcc) and asan (clang,
#                   ASan+UBSan+LSan); run unit tests, short fuzz runs and
#                   integration tests; print "N passed, N failed"
#   make fuzz       long fuzz runs (FUZZ_SECONDS each, default 600)
#   make BUILD=asan / BUILD=fuzz   the other build variants
#   make CC=clang   warnings are errors with both gcc and clang

BUILD ?= release
O := build/$(BUILD)

PKGS := openssl sqlite3 zlib $(shell pkg-config --exists vterm 2>/dev/null && echo vterm)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wformat=2 -Wno-unused-parameter \
	-Wno-format-nonliteral -Wimplicit-fallthrough
# -iquote, not -I: src/core/limits.h must not shadow the system <limits.h>.
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc -iquote src/core $(WARN) $(PKG_CFLAGS)

ifeq ($(BUILD),release)
CC ?= gcc
MODE_CFLAGS := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
MODE_LDFLAGS := -pie -Wl,-z,relro,-z,now
else ifeq ($(BUILD),asan)
CC := clang
MODE_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -DHF_DEBUG=1
MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(BUILD),fuzz)
CC := clang
MODE_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -DHF_DEBUG=1 -DHF_FUZZ=1
MODE_LDFLAGS := -fsanitize=fuzzer,address,undefined
else
$(error BUILD must be release, asan or fuzz)
endif

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(MODE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(MODE_LDFLAGS) $(LDFLAGS)

CORE_SRC := $(sort $(wildcard src/core/*.c))
SUP_SRC := $(sort $(wildcard src/supervisor/*.c))
CTL_SRC := $(sort $(wildcard src/ctl/*.c))
# Services linked into holdfastd: one directory each.
SERVICE_DIRS := src/echo src/nntp $(wildcard src/rdp src/pptp)
SERVICE_SRC := $(sort $(foreach d,$(SERVICE_DIRS),$(wildcard $(d)/*.c)))

obj = $(patsubst %.c,$(O)/%.o,$(1))
CORE_OBJ := $(call obj,$(CORE_SRC))

SOAK_SRC := $(sort $(wildcard tools/soak/*.c))
BINS := $(O)/holdfastd $(O)/holdfastctl $(if $(SOAK_SRC),$(O)/holdfast-soak)

.PHONY: all run check fuzz leak unit clean deps-run deps-check
# Test programs built with the binaries (integration tests run them).
TEST_BINS := $(O)/tests/pppeer
all: $(BINS) $(TEST_BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/libhfcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The term service's broker checks logins with PAM (src/rdp/broker.c).
# -lcrypt by name: ASan intercepts crypt_r and calls NULL when libcrypt
# only arrives later with pam_unix.so (dlopen).
PAM_LIBS := -lpam -Wl,--no-as-needed -lcrypt -Wl,--as-needed
HOLDFASTD_LIBS := $(if $(wildcard src/rdp/broker.c),$(PAM_LIBS))
$(O)/holdfastd: $(call obj,$(SUP_SRC) $(SERVICE_SRC)) $(O)/libhfcore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(HOLDFASTD_LIBS)

$(O)/holdfastctl: $(call obj,$(CTL_SRC)) $(O)/libhfcore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The attack harness (tools/soak): -lm for its statistics.
$(O)/holdfast-soak: $(call obj,$(SOAK_SRC)) $(O)/libhfcore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The tunnel tests' PPP client: stands alone (links nothing of src/), its
# crypto from libcrypto, so that it checks the server's own.
$(O)/tests/pppeer: tests/pppeer/pppeer.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lcrypto

# Unit tests: tests/unit/test_NAME.c links the objects listed in
# UNIT_DEPS_NAME as paths under src/ without .c ("core/region nntp/article";
# default: every core object), so a module can be tested while another is
# half-written.
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRC))
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
-include tests/unit/deps.mk

.SECONDEXPANSION:
$(O)/tests/unit/test_%: $(O)/tests/unit/test_%.o $$(if $$(UNIT_DEPS_$$*),$$(call obj,$$(addprefix src/,$$(addsuffix .c,$$(UNIT_DEPS_$$*)))),$$(CORE_OBJ))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS)

$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -iquote tests/unit -MMD -MP -c $< -o $@

unit: $(UNIT_BINS)

# Fuzz targets (BUILD=fuzz): tests/fuzz/fuzz_NAME.c, deps in FUZZ_DEPS_NAME (as UNIT_DEPS).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/tests/fuzz/%,$(FUZZ_SRC))
$(O)/tests/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $$(if $$(FUZZ_DEPS_$$*),$$(call obj,$$(addprefix src/,$$(addsuffix .c,$$(FUZZ_DEPS_$$*)))),$$(CORE_OBJ))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(O)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
fuzz-bins: $(FUZZ_BINS)

NPROC := $(shell nproc 2>/dev/null || echo 2)

deps-run:
	@scripts/deps.sh run
deps-check:
	@scripts/deps.sh check

run: deps-run
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=release all
	@scripts/run.sh

check: deps-check
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=release all
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=asan all unit
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=fuzz fuzz-bins
	@tests/run.sh

# The leak acceptance runs alone, printing their measurements (all are part
# of `make check` too): news (200,000 malformed posts), term (100,000
# malformed RDP PDUs with an xfreerdp login during them), tunnel (200,000
# control messages and GRE, with a ping through a tunnel during them).
leak: deps-check
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=release all
	@PYTEST_ARGS="-s -k leak" tests/run.sh integration-release

FUZZ_SECONDS ?= 600
fuzz: deps-check
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=fuzz fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh fuzz

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
