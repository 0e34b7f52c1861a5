#!/bin/bash
# bench.sh: what `make bench` runs.  Replicas on loopback with their state
# on disk under build/bench (not tmpfs, durability on, default log
# levels), one client per agency uploading generated files, all spawned
# and timed by benchrun (no shell per client).  Per run: throughput (bets
# per second from the first client start to the last client exit), server
# CPU seconds per 100k bets (utime+stime of every replica, from /proc),
# peak RSS of one replica (VmHWM) and of one client (wait4's maxrss),
# and the winners latency: from the last close recorded (the mtime of
# agencies_closed.txt) to each agency holding its winners (its client's
# exit, which follows at once), median and max over the agencies.
#
# First the headline: BENCH_AGENCIES (5) agencies on BENCH_REPLICAS (3)
# replicas, BENCH_RUNS (5) times, with the median and range of each
# column.  Then a sweep over replicas (1, 3, 8) and agencies (5, 100,
# 1000), BENCH_SWEEP_RUNS (1) times each (BENCH_SWEEP=0 skips it), as a
# table and as a plot, build/bench/sweep.png (gnuplot, when installed).
# BENCH_BETS (800000) bets per run.  BENCH_AUTH (1) runs as the cluster
# does by default, every agency authenticated with its own key; 0 without
# keys.  Then the many-agency line: BENCH_MANY_AGENCIES (1000) agencies
# with BENCH_MANY_BETS (8000) bets each on 3 replicas, BENCH_MANY_RUNS (3)
# times (0 skips it), printed beside the process floor: how long benchrun
# takes to start and reap as many processes that do nothing, the least
# any run of that many clients can take on this machine.
#
# BENCH_METRICS: "both" (the default) alternates the headline's runs
# between replicas without /metrics (METRICS_PORT=0) and with it on and
# scraped every second, as Prometheus would, BENCH_RUNS of each, and
# prints each mode's medians and how far apart their throughput is; "1"
# or "0" runs everything with metrics on or off.  The sweep and the
# many-agency line run with metrics off unless BENCH_METRICS=1.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

BETS=${BENCH_BETS:-800000}
AGENCIES=${BENCH_AGENCIES:-5}
REPLICAS=${BENCH_REPLICAS:-3}
RUNS=${BENCH_RUNS:-5}
SWEEP=${BENCH_SWEEP:-1}
SWEEP_RUNS=${BENCH_SWEEP_RUNS:-1}
AUTH=${BENCH_AUTH:-1}
METRICS=${BENCH_METRICS:-both}
case $METRICS in
both | 0 | 1) ;;
*) echo "bench: BENCH_METRICS must be both, 0 or 1: '$METRICS'" >&2; exit 1 ;;
esac
METRICS_ON=$([ "$METRICS" = 1 ] && echo 1 || echo 0)
OUTDIR=build/bench
mkdir -p "$OUTDIR" || exit 1
ROOT=$(mktemp -d "$PWD/$OUTDIR/run.XXXXXX") || exit 1
trap 'lib_cleanup; rm -rf "$ROOT"' EXIT
TICKS=$(getconf CLK_TCK)
# The replicas' defaults; the test helpers' config file sets lower ones.
DEFAULTS=(MAX_CONNECTIONS=1024 MAX_CONNECTIONS_PER_PEER=1024
    SERVER_LISTEN_BACKLOG=1024)

# hwm PID: peak resident set in kB.
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# bench_keys DIR N: agency-a.key for agencies 1..N and agencies.keys, as
# scripts/keys.sh lays them out (mode 0600), from one read of
# /dev/urandom: keys.sh spends a few processes on each key.
bench_keys() {
	mkdir -p -m 700 "$1" || return 1
	(
		umask 077
		od -An -tx1 -v -N $((32 * $2)) /dev/urandom | tr -d ' \n' |
		    awk -v n="$2" -v d="$1" '{
			for (a = 1; a <= n; a++) {
				k = substr($0, (a - 1) * 64 + 1, 64)
				f = d "/agency-" a ".key"
				print k >f
				close(f)
				print a, k >(d "/agencies.keys")
			}
		}'
	)
}

# latency TD: "median max" in ms from the last close (the mtime of
# agencies_closed.txt) to each client's exit (its line in TD/exits).
latency() {
	local closed
	closed=$(stat -c %.9Y "$1/state/agencies_closed.txt") || return 1
	awk -v c="$closed" '{ d = ($1 - c) * 1000; print d < 0 ? 0 : d }' \
	    "$1/exits" | sort -g |
	    awk '{ d[NR] = $1 }
	    END { printf "%.1f %.1f\n", d[int((NR + 1) / 2)], d[NR] }'
}

# one_run REPLICAS AGENCIES SEED [BETS]: prints "bets_per_s cpu_per_100k
# server_kb client_kb lat_median_ms lat_max_ms".
one_run() {
	local nrep=$1 nag=$2 TD=$ROOT/run$3 i a t0 t1 ticks=0 srv_kb cli_kb
	local BETS=${4:-$BETS}
	local lat scraper=
	local -a ports keyvar mvar
	# Runs in a command substitution: clean up this subshell's processes.
	trap lib_cleanup EXIT
	mkdir -p "$TD"
	"$BIN/gendata" -o "$TD/data" -a "$nag" -n "$BETS" -s "$3" >/dev/null ||
	    return 1
	keyvar=()
	if [ "$AUTH" = 1 ]; then
		bench_keys "$TD/keys" "$nag" || return 1
		keyvar=(AGENCY_KEYS="$TD/keys/agencies.keys")
	fi
	local mports=
	for ((i = 1; i <= nrep; i++)); do
		ports[i]=$(free_port)
		LIB_PORT=${ports[i]}
		mvar=()
		if [ "$METRICS_ON" = 1 ]; then
			mvar=(METRICS_PORT="$(free_port)")
			LIB_PORT=${mvar[0]#*=}
			mports="$mports ${mvar[0]#*=}"
		fi
		start_server srv$i "${ports[i]}" "$TD/state" "$nag" \
		    "${DEFAULTS[@]}" "${keyvar[@]}" "${mvar[@]}" || {
			echo "bench: replica $i did not start" >&2
			return 1
		}
	done
	# With metrics on, every replica is scraped each second, as a
	# Prometheus server would, for the whole run.
	if [ -n "$mports" ]; then
		(
			while :; do
				for p in $mports; do
					scrape "$p" >/dev/null 2>&1
				done
				sleep 1
			done
		) &
		scraper=$!
		PIDS+=($scraper)
	fi
	# Configs first: the clock measures the clients, not this shell.
	for ((a = 1; a <= nag; a++)); do
		client_conf "$TD/client-$a.yaml" "$a" \
		    "127.0.0.1:${ports[$(((a - 1) % nrep + 1))]}" "$TD/data"
		[ "$AUTH" != 1 ] ||
		    echo "key_file: $TD/keys/agency-$a.key" >>"$TD/client-$a.yaml"
	done
	# benchrun spawns them all and notes each exit: the agency holds its
	# winners then.  Its last line: the first start and the last exit.
	"$BIN/benchrun" "$BIN/client" "$TD" "$nag" \
	    "$TD/state/agencies_closed.txt" >"$TD/clients" ||
	    { echo "bench: a client failed" >&2; return 1; }
	awk 'NF == 4 { print $3 }' "$TD/clients" >"$TD/exits"
	cli_kb=$(awk '$1 == 1 && NF == 4 { print $4 }' "$TD/clients")
	read -r t0 t1 < <(tail -n 1 "$TD/clients")
	[ "$(lines "$TD/state/bets.csv")" -eq "$BETS" ] ||
	    { echo "bench: bets.csv does not hold $BETS bets" >&2; return 1; }
	srv_kb=$(hwm "${SPID[srv1]}")
	for ((i = 1; i <= nrep; i++)); do
		ticks=$((ticks + $(cpu_ticks "${SPID[srv$i]}")))
	done
	lat=$(latency "$TD") || return 1
	lib_cleanup
	rm -rf "$TD"
	awk -v b="$BETS" -v t0="$t0" -v t1="$t1" -v k="$ticks" -v hz="$TICKS" \
	    -v s="$srv_kb" -v c="$cli_kb" -v l="$lat" 'BEGIN {
		printf "%.0f %.3f %d %d %s\n", b / (t1 - t0),
		    k / hz * 100000 / b, s, c, l
	}'
}

# summary FILE: per column, "median min-max" of the runs in FILE.
summary() {
	local c
	for c in 1 2 3 4 5 6; do
		sort -g -k$c,$c "$1" | awk -v c=$c '
		    { v[NR] = $c }
		    END { printf "%s %s-%s\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
	done
}

HDR='%-7s %10s %11s %10s %10s %9s %9s\n'
printf '%d bets, state on disk under %s, binaries in %s, authentication %s\n' \
    "$BETS" "$OUTDIR" "$BIN" "$([ "$AUTH" = 1 ] && echo on || echo off)"
printf '\n%d agencies, %d replicas, %d runs, metrics %s\n' "$AGENCIES" \
    "$REPLICAS" "$RUNS" "$(case $METRICS in both) echo "off and on, alternating" ;;
    1) echo on ;; *) echo off ;; esac)"
printf "$HDR" run bets/s cpu-s/100k server-kB client-kB win-med-ms \
    win-max-ms
: >"$ROOT/headline"
: >"$ROOT/headline-on"
# headline_median FILE LABEL: the median and range lines of FILE's runs.
headline_median() {
	summary "$1" | {
		read -r a ra; read -r b rb; read -r c rc; read -r d rd
		read -r e re; read -r f rf
		printf "$HDR" "$2" "$a" "$b" "$c" "$d" "$e" "$f"
		printf "$HDR" range "$ra" "$rb" "$rc" "$rd" "$re" "$rf"
	}
}
for ((r = 1; r <= RUNS; r++)); do
	for mode in $([ "$METRICS" = both ] && echo 0 1 || echo "$METRICS_ON"); do
		out=$(METRICS_ON=$mode one_run "$REPLICAS" "$AGENCIES" $r) ||
		    exit 1
		if [ "$METRICS" = both ] && [ "$mode" = 1 ]; then
			echo "$out" >>"$ROOT/headline-on"
			label=$r-on
		else
			echo "$out" >>"$ROOT/headline"
			label=$r$([ "$METRICS" = both ] && echo -off)
		fi
		set -- $out
		printf "$HDR" "$label" "$1" "$2" "$3" "$4" "$5" "$6"
	done
done
if [ "$METRICS" = both ]; then
	headline_median "$ROOT/headline" med-off
	headline_median "$ROOT/headline-on" med-on
	# Throughput with metrics on against off, medians of the same run.
	off=$(summary "$ROOT/headline" | awk 'NR == 1 { print $1 }')
	on=$(summary "$ROOT/headline-on" | awk 'NR == 1 { print $1 }')
	awk -v a="$off" -v b="$on" 'BEGIN {
		d = (b - a) / a * 100
		printf "metrics on: %+.1f %% bets/s against off (%s)\n", d,
		    (d >= -3 ? "within 3 %" : "MORE THAN 3 % SLOWER")
	}'
elif [ "$RUNS" -gt 1 ]; then
	headline_median "$ROOT/headline" median
fi
# many_agencies: the many-agency line with its floor.
many_agencies() {
	local nag=${BENCH_MANY_AGENCIES:-1000} per=${BENCH_MANY_BETS:-8000}
	local runs=${BENCH_MANY_RUNS:-3} r out floor bets
	[ "$runs" = 0 ] && return 0
	bets=$((nag * per))
	printf '\n%d agencies x %d bets (%d), 3 replicas, %d runs\n' "$nag" \
	    "$per" "$bets" "$runs"
	printf "$HDR" run bets/s cpu-s/100k server-kB client-kB win-med-ms \
	    win-max-ms
	: >"$ROOT/many"
	: >"$ROOT/floor"
	for ((r = 1; r <= runs; r++)); do
		out=$(one_run 3 "$nag" $((200 + r)) "$bets") || return 1
		echo "$out" >>"$ROOT/many"
		set -- $out
		printf "$HDR" $r "$1" "$2" "$3" "$4" "$5" "$6"
		"$BIN/benchrun" -floor "$nag" >>"$ROOT/floor" || return 1
	done
	summary "$ROOT/many" | {
		read -r a ra; read -r b rb; read -r c rc; read -r d rd
		read -r e re; read -r f rf
		printf "$HDR" median "$a" "$b" "$c" "$d" "$e" "$f"
	}
	floor=$(sort -g "$ROOT/floor" | awk '{ v[NR] = $1 }
	    END { print v[int((NR + 1) / 2)] }')
	awk -v f="$floor" -v n="$nag" -v b="$bets" 'BEGIN {
		printf "process floor: %.2f s to start and reap %d processes " \
		    "that do nothing (median of the runs), so at most " \
		    "%.0f bets/s for %d bets\n", f, n, b / f, b
	}'
}
many_agencies || exit 1
[ "$SWEEP" = 0 ] && exit 0

printf '\nsweep, %d run(s) each: medians (ranges)\n' "$SWEEP_RUNS"
SHDR='%-8s %-8s %-20s %-18s %9s %9s %9s\n'
printf "$SHDR" replicas agencies bets/s cpu-s/100k server-kB client-kB \
    win-med-ms
# sweep.dat: one line per replica count, "replicas" then bets/s and CPU
# for 5, 100 and 1000 agencies: the plot groups the agency counts
# under each replica count.
: >"$OUTDIR/sweep.dat"
for nrep in 1 3 8; do
	printf '"%d replica%s"' $nrep "$([ $nrep = 1 ] || echo s)" \
	    >>"$OUTDIR/sweep.dat"
	for nag in 5 100 1000; do
		: >"$ROOT/point"
		for ((r = 1; r <= SWEEP_RUNS; r++)); do
			out=$(one_run $nrep $nag $((100 + r))) || exit 1
			echo "$out" >>"$ROOT/point"
		done
		summary "$ROOT/point" | {
			read -r a ra; read -r b rb; read -r c rc; read -r d rd
			read -r e re; read -r f rf
			printf "$SHDR" $nrep $nag "$a ($ra)" "$b ($rb)" "$c" \
			    "$d" "$e"
			printf ' %s %s' "$a" "$b" >>"$OUTDIR/sweep.dat"
		}
	done
	echo >>"$OUTDIR/sweep.dat"
done
if command -v gnuplot >/dev/null; then
	# Grouped bars, no line across unrelated categories; bets/s on a log
	# scale since the agency counts differ by decades.
	gnuplot <<-EOF || echo "bench: gnuplot failed" >&2
	set terminal png size 1000,450
	set output "$OUTDIR/sweep.png"
	set multiplot layout 1,2 title "$BETS bets, state on disk"
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.7
	set key below horizontal
	set title "throughput (bets/s, log scale)"
	set logscale y
	set yrange [*:*]
	plot "$OUTDIR/sweep.dat" using 2:xtic(1) title "5 agencies", \
	    "" using 4 title "100 agencies", "" using 6 title "1000 agencies"
	unset logscale y
	set yrange [0:*]
	set title "server CPU s per 100k bets"
	plot "$OUTDIR/sweep.dat" using 3:xtic(1) title "5 agencies", \
	    "" using 5 title "100 agencies", "" using 7 title "1000 agencies"
	unset multiplot
	EOF
	echo "plot: $OUTDIR/sweep.png (data $OUTDIR/sweep.dat)"
else
	echo "bench: no gnuplot (scripts/deps.sh --bench): no plot" >&2
fi
