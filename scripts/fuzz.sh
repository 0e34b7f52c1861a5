#!/bin/bash
# fuzz.sh SECONDS [TARGET...]: run each libFuzzer target of build-fuzz/
# (default: every one `make fuzz-build` makes) for SECONDS on its own corpus
# build-fuzz/corpus-NAME, its output in build-fuzz/NAME.log.  Prints one
# line per target with the executions libFuzzer counted, and a crashing
# input's path when there is one (build-fuzz/crash-NAME-*, kept across
# runs); exits 1 when any target crashed or reported a sanitizer error.
# fuzz.sh --probe: exit 0 when clang can link a fuzzer, 77 with the reason
# otherwise (what run_tests.sh uses to skip).
set -u
cd "$(dirname "$0")/.." || exit 1

probe() {
	local d rc
	d=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_probe.XXXXXX") || return 1
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' >"$d/p.c"
	if ! command -v clang >/dev/null; then
		echo "fuzz: skipped: no clang" >&2
		rc=77
	elif ! clang -fsanitize=fuzzer,address,undefined -o "$d/p" "$d/p.c" \
	    >"$d/log" 2>&1; then
		echo "fuzz: skipped: clang cannot link a fuzzer" \
		    "(no libFuzzer runtime): $(head -n 1 "$d/log")" >&2
		rc=77
	else
		rc=0
	fi
	rm -rf "$d"
	return $rc
}

# frame PAYLOAD: print the 2-byte big-endian length and the payload.
frame() {
	local n=${#1}
	printf "\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))%s" "$1"
}

# seed_session DIR: a few whole conversations to start session_fuzz from
# (libFuzzer mutates from there; an empty corpus takes long to find a
# well-formed batch).
seed_session() {
	local b="Ana;Diaz;30111222;1990-01-31;7574" c="Luis;Paz;2;2001-12-01;12"
	frame "StoreBatch:1:$b:$c" >"$1/seed-batch"
	{ frame "StoreBatchAt:2:0:$b"; frame "StoreBatchAt:2:1:$c"
	  frame "AgencyStatus:2"; } >"$1/seed-at"
	frame "StoreBet:3;$b" >"$1/seed-bet"
	{ frame "Echo:hi"; frame "WinnersRequest:1"; frame "WinnersPage:1:0"
	} >"$1/seed-query"
	{ for a in 1 2 3 4 5; do frame "StoreBatch:$a:$b"; done
	  for a in 1 2 3 4 5; do frame "AgencyClose:$a"; done
	  frame "WinnersRequest:1"; frame "WinnersPage:1:0"
	  frame "WinnersWait:1:0:1000"
	} >"$1/seed-draw"
}

if [ "${1:-}" = --probe ]; then
	probe
	exit
fi
secs=${1:?usage: fuzz.sh SECONDS [TARGET...]}
shift
[ $# -gt 0 ] || set -- proto_fuzz session_fuzz

failed=0
for t in "$@"; do
	bin=build-fuzz/$t
	[ -x "$bin" ] || { echo "fuzz $t: no $bin (make fuzz-build)"; failed=1; continue; }
	mkdir -p "build-fuzz/corpus-$t"
	dict=
	if [ "$t" = session_fuzz ]; then
		[ -n "$(ls -A build-fuzz/corpus-$t)" ] ||
		    seed_session "build-fuzz/corpus-$t"
		dict=-dict=server/session_fuzz.dict
	fi
	# 9216: a largest frame (8192 bytes) and some more; longer inputs
	# only make each run slower.
	"$bin" -max_total_time="$secs" -max_len=9216 -timeout=30 \
	    -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" $dict \
	    "build-fuzz/corpus-$t" >"build-fuzz/$t.log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' \
	    "build-fuzz/$t.log" | grep -o '[0-9]*$')
	if [ $rc -eq 0 ]; then
		echo "fuzz $t: ${execs:-?} executions in ${secs}s, no crash"
		continue
	fi
	failed=1
	# libFuzzer names it PREFIX{crash,leak,timeout,oom}-SHA1.
	crash=$(ls -t build-fuzz/crash-"$t"-* 2>/dev/null | head -n 1)
	echo "fuzz $t: ${execs:-?} executions, FAILED (exit $rc)" \
	    "input ${crash:-none saved}; see build-fuzz/$t.log:"
	grep -E -A 12 '^==[0-9]+==ERROR|runtime error:|deadly signal' \
	    "build-fuzz/$t.log" | head -n 30
done
exit $failed
