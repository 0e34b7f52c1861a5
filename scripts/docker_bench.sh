#!/bin/bash
# docker_bench.sh: what `make docker-bench` runs, the Docker figures of
# docs/performance.md.  With the images already built and the keys made
# (both untimed, first), each run clears the state and removes the
# cluster (untimed), then times `make docker-compose-up` to the last
# agency's exit (the latest FinishedAt of client1..clientN) and checks the
# run as the integration test does (every agency exits 0 with its winners,
# every bet once, one draw); a run that is not exact fails the bench.
#   - DBENCH_RUNS (5) runs of SERVERS=3 with the agencies of .env (5);
#   - DBENCH_RUNS runs of SERVERS=3 CLIENTS=DBENCH_MANY (100; 0 skips);
#   - scripts/integration_test.sh DBENCH_INTEGRATION (10) once, timed
#     whole (0 skips).
# Prints each run, then the median and range of each; the Compose used is
# the one docker-lib.sh picks (COMPOSE_CMD="docker compose" for the v2
# plugin), and its version and the engine's are printed first.
set -u
. "$(dirname "$0")/docker-lib.sh"

RUNS=${DBENCH_RUNS:-5}
MANY=${DBENCH_MANY:-100}
INTEG=${DBENCH_INTEGRATION:-10}

# The agencies of .env, not those of the last cluster brought up.
DL_FRESH=1 dl_load_env
dl_lock
echo "engine $(docker version -f '{{.Server.Version}}' 2>/dev/null)," \
    "compose: $($DL_COMPOSE version --short 2>/dev/null || $DL_COMPOSE version | head -n 1)"

# now: seconds since the epoch with nanoseconds.
now() {
	date +%s.%N
}

# last_exit N: the latest FinishedAt of client1..clientN, in seconds.
last_exit() {
	local t max=0 s
	# shellcheck disable=SC2046
	for t in $(docker inspect -f '{{.State.FinishedAt}}' \
	    $(dl_client_names "$1")); do
		s=$(date -d "$t" +%s.%N) || return 1
		max=$(echo "$s $max" | awk '{ print ($1 > $2) ? $1 : $2 }')
	done
	echo "$max"
}

# stats: "median (min to max)" of the numbers on stdin, one a line.
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
	    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.2f s (%.2f to %.2f)", m, v[1], v[NR] }'
}

# up_run CLIENTS: one timed run; prints its seconds.
up_run() {
	local c=$1 t0 t1 why
	make -s new-lottery CLIENTS="$c" SERVERS=3 >"$tmpd/new.log" 2>&1 ||
	    dl_die "make new-lottery failed: $(tail -n 3 "$tmpd/new.log")"
	t0=$(now)
	make -s docker-compose-up CLIENTS="$c" SERVERS=3 >"$tmpd/up.log" 2>&1 ||
	    dl_die "make docker-compose-up failed: $(tail -n 3 "$tmpd/up.log")"
	CLIENTS=$c dl_wait_clients 600 || dl_die "agencies not done in 600 s"
	t1=$(last_exit "$c") || dl_die "no FinishedAt"
	if ! why=$(CLIENTS=$c dl_check_run); then
		echo "docker-bench: run not exact: $why" >&2
		exit 1
	fi
	echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }'
}

# series NAME CLIENTS: RUNS runs, each printed, then the summary line.
series() {
	local i s all=
	for i in $(seq "$RUNS"); do
		s=$(up_run "$2") || exit 1
		echo "$1 run $i: $s s"
		all="$all$s"$'\n'
	done
	echo "$1: $(printf '%s' "$all" | stats), median of $RUNS"
}

tmpd=$(mktemp -d) || exit 1
trap 'rm -rf "$tmpd"; make -s docker-compose-down >/dev/null 2>&1' EXIT
make -s docker-image >/dev/null || dl_die "make docker-image failed"
make -s keys >/dev/null || dl_die "make keys failed"
series "up SERVERS=3 CLIENTS=$CLIENTS" "$CLIENTS"
[ "$MANY" -eq 0 ] || series "up SERVERS=3 CLIENTS=$MANY" "$MANY"
if [ "$INTEG" -ne 0 ]; then
	make -s new-lottery SERVERS=3 >/dev/null 2>&1
	t0=$(now)
	scripts/integration_test.sh "$INTEG" >"$tmpd/integ.log" 2>&1 ||
	    dl_die "integration_test.sh failed: $(tail -n 3 "$tmpd/integ.log")"
	echo "integration_test.sh $INTEG: $(echo "$t0 $(now)" |
	    awk '{ printf "%.1f", $2 - $1 }') s"
fi
