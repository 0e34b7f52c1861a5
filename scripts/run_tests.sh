#!/bin/bash
# run_tests.sh: what `make test` runs.  Builds the normal, the
# ASan+UBSan and the ThreadSanitizer trees with their unit tests, checks
# that every header compiles alone, runs every unit test binary of each,
# the host-level tests against each set of binaries (any sanitizer report
# fails the test that made it), a short fuzz of every libFuzzer target, a
# short fault soak, a short power-cut run, the Docker tests (Compose,
# Swarm, Compose v2), the GlusterFS tests (one brick, replica 3) and the
# Swarm stack on the replica-3 volume when the machine can run them.  Each suite ends as "PASS name", "FAIL name" or "SKIP name" (exit
# 77); the last line is "summary: N passed, M failed, K skipped" and the
# status is non-zero when any suite failed.
# --unit-only runs just the unit tests of build/ (what `make unit` wants);
# --tsan-only just the ThreadSanitizer stage (what `make tsan` wants).
set -u
cd "$(dirname "$0")/.." || exit 1

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# A data race, a lock-order inversion or a misused mutex ends the process
# (exit 66) at its first report; no suppression file: every report is
# either fixed or the stage fails.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
MAKE=${MAKE:-make}
passed=0
failed=0
skipped=0

# suite NAME CMD...: run one suite, its output shown as it comes.
suite() {
	local name=$1 rc
	shift
	echo "=== $name"
	"$@"
	rc=$?
	case $rc in
	0)	echo "PASS $name"; passed=$((passed + 1)) ;;
	77)	echo "SKIP $name"; skipped=$((skipped + 1)) ;;
	*)	echo "FAIL $name (exit $rc)"; failed=$((failed + 1)) ;;
	esac
}

# unit_tests DIR: every test binary of one build.
unit_tests() {
	local t
	for t in "$1"/test/*_test; do
		[ -x "$t" ] || continue
		suite "unit ${t#./}" "$t"
	done
}

# fuzz_short: about 30 s of libFuzzer over the targets; 77 when clang
# cannot link a fuzzer here.
fuzz_short() {
	local rc

	scripts/fuzz.sh --probe
	rc=$?
	[ $rc -eq 0 ] || return $rc
	$MAKE -s fuzz-build || return 1
	scripts/fuzz.sh 15 proto_fuzz session_fuzz
}

# tsan_stage: the ThreadSanitizer tree, its unit tests, and host tests
# against its binaries.  All 55 host tests take over 12 minutes on two
# busy cores, so by default a set that runs every thread path: group
# commit from many connections and replicas (cluster, pipeline_kill,
# dup_sync, disk_full's rollback), the draw's waiters and watcher
# (wait_woken, close_race, file_replaced's reopen under the watcher),
# shutdown and its drain (shutdown), lock waits and their tick
# (frozen_lock), many connections, parked threads and the slot table
# (conn_cap, peer_cap, echo_hold), the handshake throttle (auth_forged,
# auth_cluster), faultfs's own threads (fs_cluster) and the metrics
# thread answering scrapes while the replicas store (monitor).  TSAN_TESTS=all
# runs every host test, TSAN_TESTS="NAME..." those named.
TSAN_SET="cluster pipeline_kill dup_sync disk_full wait_woken close_race
file_replaced shutdown frozen_lock conn_cap peer_cap echo_hold auth_forged
auth_cluster fs_cluster monitor"
tsan_stage() {
	local set=${TSAN_TESTS:-$TSAN_SET}

	[ "$set" = all ] && set=
	suite "build-tsan" $MAKE -s SANITIZER=thread tests
	unit_tests build-tsan
	if [ -x build-tsan/bin/server ] && [ -x build-tsan/bin/client ]; then
		suite "host build-tsan/bin" env BIN=build-tsan/bin \
		    scripts/host_test.sh $set
	else
		suite "host build-tsan/bin" false
	fi
}

summary() {
	echo "summary: $passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
	exit
}

if [ "${1:-}" = --unit-only ]; then
	unit_tests build
	summary
fi
if [ "${1:-}" = --tsan-only ]; then
	tsan_stage
	summary
fi

suite "build" $MAKE -s tests
suite "build-asan" $MAKE -s SANITIZER=address,undefined tests
suite "build-clang" $MAKE -s CC=clang OUT=build-clang tests
suite "headers" $MAKE -s headers
unit_tests build
unit_tests build-asan
if [ -x build/bin/server ] && [ -x build/bin/client ]; then
	suite "host build/bin" env BIN=build/bin scripts/host_test.sh
else
	suite "host build/bin" false
fi
if [ -x build-asan/bin/server ] && [ -x build-asan/bin/client ]; then
	suite "host build-asan/bin" env BIN=build-asan/bin scripts/host_test.sh
else
	suite "host build-asan/bin" false
fi
tsan_stage
suite "fuzz" fuzz_short
if [ -x build/bin/server ] && [ -x build/bin/client ]; then
	# Short: every kind of fault must land at least once (a full run
	# asks 20 of each).
	suite "soak" env BIN=build/bin SOAK_ROUNDS=60 SOAK_BETS=20000 \
	    SOAK_FLOOR_OTHER=1 scripts/soak.sh
else
	suite "soak" false
fi
# Power cuts: 30 of them, each after every replica was killed at once.
if [ -x build/bin/server ] && [ -x build/bin/client ]; then
	suite "crash" env BIN=build/bin CRASH_CUTS=30 scripts/crash_test.sh
else
	suite "crash" false
fi
# The Docker stages (the status page in a browser after the Compose one),
# then the replicas on a GlusterFS volume of one brick and of three, then
# the Swarm stack with its state on a volume of three: each skips (77,
# with its reason) where this machine cannot run it.
for t in docker browser swarm compose_v2 gluster gluster3 swarm_gluster; do
	if [ -x "scripts/${t}_test.sh" ]; then
		suite "$t" "scripts/${t}_test.sh"
	else
		echo "SKIP $t (no scripts/${t}_test.sh)"
		skipped=$((skipped + 1))
	fi
done
summary
