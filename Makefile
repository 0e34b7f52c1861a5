# The lottery bet cluster.  `make help` lists the targets.
#
# Objects and binaries go to $(OUT): build/ by default, build-asan/ with
# SANITIZER=address,undefined, build-tsan/ with SANITIZER=thread (the
# race detector).  Nothing is rebuilt that did not change.

CC	?= cc
SANITIZER ?=
OUT	?= $(if $(filter thread,$(SANITIZER)),build-tsan,$(if $(SANITIZER),build-asan,build))
PKGS	:= libbsd-overlay inih yaml-0.1 libsodium libmicrohttpd

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wno-format-zero-length
CFLAGS	?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -pthread -Icommon \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	   $(if $(SANITIZER),-fsanitize=$(SANITIZER) -fno-omit-frame-pointer)
LDLIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
ALL_LDFLAGS := $(LDFLAGS) $(if $(SANITIZER),-fsanitize=$(SANITIZER))

COMMON_SRC := common/log.c common/io.c common/num.c common/auth.c common/bet.c \
	      common/proto.c common/csv.c common/cfg.c common/backoff.c \
	      common/sig.c common/conn.c common/keyfile.c
SERVER_SRC := $(filter-out %_test.c %_fuzz.c,$(wildcard server/*.c))
CLIENT_SRC := $(filter-out %_test.c,$(wildcard client/*.c))
MON_SRC	   := $(filter-out %_test.c,$(wildcard monitor/*.c))
GEN_SRC	   := scripts/gendata.c
PEER_SRC   := scripts/badpeer.c
CTL_SRC	   := scripts/lotteryctl.c
TEST_SRC   := $(wildcard common/*_test.c server/*_test.c client/*_test.c \
	      monitor/*_test.c)

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
BINS	:= $(OUT)/bin/server $(OUT)/bin/client $(OUT)/bin/gendata \
	   $(OUT)/bin/badpeer $(OUT)/bin/lotteryctl $(OUT)/bin/monitor
TESTS	:= $(patsubst %.c,$(OUT)/test/%,$(notdir $(TEST_SRC)))

# Test tools: the OFD lock check, the benchmark's client launcher, and the fault-injecting filesystem when
# libfuse3 is installed (its host tests skip without it).
FUSE_OK	:= $(shell pkg-config --exists fuse3 2>/dev/null && echo 1)
TOOLS	:= $(OUT)/bin/lockcheck $(OUT)/bin/benchrun $(OUT)/bin/statecheck \
	   $(if $(FUSE_OK),$(OUT)/bin/faultfs)

Q	:= $(if $(V),,@)
.DEFAULT_GOAL := build

include scripts/docker.mk

.PHONY: build bins tests test unit tsan headers bench fuzz fuzz-build soak crash \
	clean help deps FORCE
.SECONDARY:

# deps first, then a fresh make so pkg-config sees what deps installed.
build: deps ## build server, client and data generator into build/bin
	@$(MAKE) --no-print-directory bins

bins: $(BINS)
	@:

$(OUT)/bin/server: $(call obj,$(SERVER_SRC)) $(COMMON_OBJ)
$(OUT)/bin/client: $(call obj,$(CLIENT_SRC)) $(COMMON_OBJ)
# Both programs are linked whole (glibc too) when the archives are
# installed, and so is lotteryctl, below.  A client starts once per agency, and a process's start and
# end cost most where page-table work is dear (a virtual machine): whole,
# it maps no shared object and makes no relocation at start.  A replica
# then holds only the code it uses: 1.6 MB resident instead of 2.7, of
# which the shared libraries' pages were most.  glibc's name lookup needs
# no shared object either (its files and dns modules are built in since
# 2.34), so its warning that static getaddrinfo may need them is
# silenced.  A sanitizer build cannot be static: it keeps only the other
# libraries inside.
# An archive counts when it sits in one of the compiler's library
# directories, where -print-file-name would find it; the directories are
# asked once, so a make with nothing to do starts in milliseconds.
LIB_DIRS := $(shell $(CC) -print-search-dirs 2>/dev/null | \
	sed -n 's/^libraries: =//p' | tr : ' ')
have_archive = $(wildcard $(addsuffix /lib$(1).a,$(LIB_DIRS)))
have_archives = $(if $(strip $(foreach l,$(1) c,$(if $(call have_archive,$(l)),,no))),,1)
CLIENT_STATIC := $(call have_archives,yaml sodium bsd md)
# The replica serves /metrics with libmicrohttpd, which Debian builds with
# GnuTLS: whole, it needs the archives of GnuTLS and of everything GnuTLS
# uses (pkg-config --static --libs libmicrohttpd).  Debian ships no
# libp11-kit.a, so there the replica is linked dynamically and
# docker/rootfs.sh copies its shared objects into the FROM scratch image.
# ld's --no-warnings (below) also hides undefined symbols, so a partial
# set of archives must never pick the static link.
MHD_LIBS := microhttpd gnutls gmp nettle hogweed tasn1 idn2 unistring p11-kit
SERVER_STATIC := $(call have_archives,inih sodium bsd md $(MHD_LIBS))
# link_libs STATIC,LIBS: the libraries of one program, as far as it can
# be static.
whole_libs = -static -Wl,--no-warnings $(1)
inside_libs = -Wl,-Bstatic $(1) -Wl,-Bdynamic
link_libs = $(if $(1),$(if $(SANITIZER),$(call inside_libs,$(2)),$(call whole_libs,$(2))),$(LDLIBS)) -pthread
$(OUT)/bin/client: LDLIBS := $(call link_libs,$(CLIENT_STATIC),-lyaml -lsodium -lbsd -lmd)
$(OUT)/bin/server: LDLIBS := $(call link_libs,$(SERVER_STATIC),-linih \
	-lsodium -lbsd -lmd $(addprefix -l,$(MHD_LIBS) atomic))
# lotteryctl goes into both images (their health checks): whole, it
# brings no shared object with it, so the images hold none.
CTL_STATIC := $(call have_archives,sodium bsd md)
$(OUT)/bin/lotteryctl: LDLIBS := $(call link_libs,$(CTL_STATIC),-lsodium -lbsd -lmd)
# benchrun times its own do-nothing copies as the floor under the
# clients' start (make bench): linked whole like them, or it measures
# the dynamic loader instead.
$(OUT)/bin/benchrun: LDLIBS := $(call link_libs,$(call have_archives,bsd md),-lbsd -lmd)
# The status page (monitor/): libmicrohttpd serves it, libcurl scrapes
# the replicas; linked dynamically (GnuTLS again), its image copies the
# shared objects.
$(OUT)/bin/monitor: $(call obj,$(MON_SRC)) $(COMMON_OBJ)
$(OUT)/bin/monitor: LDLIBS = $(MON_LIBS)
$(OUT)/obj/monitor/%.o: ALL_CFLAGS += -Imonitor
$(OUT)/bin/gendata: $(call obj,$(GEN_SRC)) $(COMMON_OBJ)
$(OUT)/bin/badpeer: $(call obj,$(PEER_SRC)) $(COMMON_OBJ)
$(OUT)/bin/lotteryctl: $(call obj,$(CTL_SRC)) $(COMMON_OBJ)
# The programs are linked again when how they are linked changes (a
# static archive installed, a sanitizer): the stamp is rewritten only
# when its text differs.
LINK_STAMP := $(OUT)/.link
LINK_TEXT := $(CC) $(ALL_LDFLAGS) static:$(CLIENT_STATIC)$(SERVER_STATIC)$(CTL_STATIC) $(LDLIBS)
$(LINK_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(LINK_TEXT)' | cmp -s - $@ || echo '$(LINK_TEXT)' >$@
FORCE:
$(BINS): $(LINK_STAMP)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(LINK_STAMP),$^) $(LDLIBS)

$(OUT)/bin/lockcheck: $(OUT)/obj/scripts/lockcheck.o
$(OUT)/bin/faultfs: $(OUT)/obj/scripts/faultfs.o
$(OUT)/bin/benchrun: $(OUT)/obj/scripts/benchrun.o
$(OUT)/bin/statecheck: $(OUT)/obj/scripts/statecheck.o $(COMMON_OBJ)
$(OUT)/bin/faultfs: LDLIBS += $(shell pkg-config --libs fuse3 2>/dev/null)
$(OUT)/obj/scripts/faultfs.o: ALL_CFLAGS += \
	$(shell pkg-config --cflags fuse3 2>/dev/null)
$(TOOLS):
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# A unit test links its module's objects (minus main.o) with cmocka.
SERVER_LIB := $(filter-out $(OUT)/obj/server/main.o,$(call obj,$(SERVER_SRC)))
CLIENT_LIB := $(filter-out $(OUT)/obj/client/main.o,$(call obj,$(CLIENT_SRC)))
$(OUT)/test/%: $(OUT)/obj/common/%.o $(COMMON_OBJ)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(OUT)/test/%: $(OUT)/obj/server/%.o $(SERVER_LIB) $(COMMON_OBJ)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(OUT)/test/%: $(OUT)/obj/client/%.o $(CLIENT_LIB) $(COMMON_OBJ)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

MON_LIB := $(filter-out $(OUT)/obj/monitor/main.o,$(call obj,$(MON_SRC)))
MON_LIBS := $(shell pkg-config --libs libmicrohttpd libcurl libsodium \
	libbsd-overlay 2>/dev/null) -pthread
$(OUT)/test/%: $(OUT)/obj/monitor/%.o $(MON_LIB) $(COMMON_OBJ)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(MON_LIBS) -lcmocka

tests: $(BINS) $(TESTS) $(TOOLS)

# Every header compiles on its own, and twice over (its guard works), with
# the project's flags: a header includes what it uses.
HEADERS	:= $(wildcard common/*.h server/*.h client/*.h monitor/*.h)
headers: ## check that each header compiles alone
	$(Q)rc=0; for h in $(HEADERS); do \
		$(CC) $(ALL_CFLAGS) -fsyntax-only -x c -include $$h \
		    -include $$h /dev/null || { echo "  HEADER  $$h"; rc=1; }; \
	done; exit $$rc

deps: ## install the host build dependencies (Debian)
	@scripts/deps.sh

test: deps ## every test: unit, host-level (also under ASan+UBSan and TSan), Docker
	@scripts/run_tests.sh

unit: tests ## unit tests of this build only
	@scripts/run_tests.sh --unit-only

tsan: deps ## the race detector's stage of make test alone (build-tsan/)
	@scripts/run_tests.sh --tsan-only

bench: deps build $(OUT)/bin/benchrun ## end-to-end benchmark on loopback, sweep and plot
	@scripts/deps.sh --bench
	@scripts/bench.sh

# libFuzzer targets (clang, ASan+UBSan): proto_fuzz over the decoder, CSV
# splitter and frame reader; session_fuzz over a replica's whole request
# path (session, store) on a scratch state directory.  scripts/fuzz.sh runs
# each (or those named in FUZZ_ONLY) for FUZZ_SECONDS on its own corpus
# under build-fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := build-fuzz/proto_fuzz build-fuzz/session_fuzz
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -g -O1 -pthread -Icommon \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	   -fsanitize=fuzzer,address,undefined
FUZZ_SERVER := $(filter-out server/main.c,$(SERVER_SRC))

build-fuzz/proto_fuzz: common/proto_fuzz.c $(COMMON_SRC)
build-fuzz/session_fuzz: server/session_fuzz.c $(FUZZ_SERVER) $(COMMON_SRC)
$(FUZZ_TARGETS): $(wildcard common/*.h server/*.h)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) -Iserver -o $@ $(filter %.c,$^) $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)
	@:

fuzz: deps ## run every fuzz target for FUZZ_SECONDS each (clang, libFuzzer)
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_ONLY)

# A fault soak of replicas and agencies on loopback, faults by progress and
# held syncs; SOAK_SEED, SOAK_ROUNDS, SOAK_REPLICAS, SOAK_AGENCIES,
# SOAK_BETS, SOAK_UPLOAD_FAULTS, SOAK_MIN_COUNTED tune it.
soak: deps ## kill, restart and freeze replicas and agencies mid-upload
	@$(MAKE) --no-print-directory bins $(TOOLS)
	@scripts/soak.sh

# Power cuts under a live cluster, the state on faultfs in power-cut mode
# (FUSE); CRASH_SEED, CRASH_CUTS, CRASH_BETS tune it.
crash: deps ## kill every replica at once and cut the power, many times; check acknowledged bets survive
	@$(MAKE) --no-print-directory bins $(OUT)/bin/statecheck \
	    $(if $(FUSE_OK),$(OUT)/bin/faultfs)
	@scripts/crash_test.sh

clean: ## remove build output
	rm -rf build build-asan build-tsan build-clang build-fuzz

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
	    awk -F':.*## ' '{ printf "  %-22s %s\n", $$1, $$2 }'

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
