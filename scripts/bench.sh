#!/bin/bash
# bench.sh: what `make bench` runs.  Three replicas on loopback, one client
# per agency uploading generated files; reports throughput (bets per second
# from the first client start to the last client exit), server CPU seconds
# per 100k bets (utime+stime of every replica, from /proc), and peak RSS
# (VmHWM) of one replica and of one client.  BENCH_BETS (80000),
# BENCH_AGENCIES (5), BENCH_REPLICAS (3) and BENCH_RUNS (1) tune it; with
# several runs the median of each column is printed too.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

BETS=${BENCH_BETS:-80000}
AGENCIES=${BENCH_AGENCIES:-5}
REPLICAS=${BENCH_REPLICAS:-3}
RUNS=${BENCH_RUNS:-1}
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'lib_cleanup; rm -rf "$ROOT"' EXIT
TICKS=$(getconf CLK_TCK)

# hwm PID: peak resident set in kB.
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# one_run N: prints "bets_per_s cpu_per_100k server_kb client_kb".
one_run() {
	local TD=$ROOT/run$1 i a port t0 t1 ticks=0 srv_kb cli_kb=0 kb
	local -a ports
	# Runs in a command substitution: clean up this subshell's processes.
	trap lib_cleanup EXIT
	mkdir -p "$TD"
	"$BIN/gendata" -o "$TD/data" -a "$AGENCIES" -n "$BETS" -s "$1" ||
	    return 1
	for ((i = 1; i <= REPLICAS; i++)); do
		ports[i]=$(free_port)
		start_server srv$i "${ports[i]}" "$TD/state" "$AGENCIES" \
		    LOGGING_LEVEL=WARNING || {
			echo "bench: replica $i did not start" >&2
			return 1
		}
	done
	t0=$(date +%s.%N)
	for ((a = 1; a <= AGENCIES; a++)); do
		port=${ports[$(((a - 1) % REPLICAS + 1))]}
		start_client $a "$port" "$TD/data" CLI_LOG_LEVEL=WARNING
	done
	# Poll the first client's peak RSS while it lives: it exits, and
	# /proc forgets it then.
	while kill -0 "${CPID[1]}" 2>/dev/null; do
		kb=$(hwm "${CPID[1]}")
		[ -n "$kb" ] && [ "$kb" -gt "$cli_kb" ] && cli_kb=$kb
		sleep 0.02
	done
	for ((a = 1; a <= AGENCIES; a++)); do
		wait "${CPID[$a]}" ||
		    { echo "bench: client $a failed" >&2; return 1; }
	done
	t1=$(date +%s.%N)
	[ "$(lines "$TD/state/bets.csv")" -eq "$BETS" ] ||
	    { echo "bench: bets.csv does not hold $BETS bets" >&2; return 1; }
	srv_kb=$(hwm "${SPID[srv1]}")
	for ((i = 1; i <= REPLICAS; i++)); do
		ticks=$((ticks + $(cpu_ticks "${SPID[srv$i]}")))
	done
	lib_cleanup
	awk -v b="$BETS" -v t0="$t0" -v t1="$t1" -v k="$ticks" -v hz="$TICKS" \
	    -v s="$srv_kb" -v c="$cli_kb" 'BEGIN {
		printf "%.0f %.3f %d %d\n", b / (t1 - t0), k / hz * 100000 / b, s, c
	}'
}

printf '%d bets, %d agencies, %d replicas, binaries in %s\n' \
    "$BETS" "$AGENCIES" "$REPLICAS" "$BIN"
printf '%-6s %12s %16s %14s %14s\n' run bets/s cpu-s/100k server-kB client-kB
for ((r = 1; r <= RUNS; r++)); do
	out=$(one_run $r) || exit 1
	echo "$out" >>"$ROOT/results"
	set -- $out
	printf '%-6s %12s %16s %14s %14s\n' $r "$1" "$2" "$3" "$4"
done
if [ "$RUNS" -gt 1 ]; then
	for c in 1 2 3 4; do
		sort -g -k$c,$c "$ROOT/results" |
		    awk -v c=$c -v n="$RUNS" 'NR == int((n + 1) / 2) { print $c }'
	done | paste -sd' ' | {
		read -r a b c d
		printf '%-6s %12s %16s %14s %14s\n' median "$a" "$b" "$c" "$d"
	}
fi
