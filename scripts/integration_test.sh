#!/bin/bash
# Runs the whole cluster RUNS times from a clean state and checks each run:
# every agency exits 0 and logs the winner count of data/expected.txt, the
# draw is logged exactly once across the replicas, and bets.csv holds
# every bet once.  The logs of a failed run are kept in
# integration-logs/run-K/.  The cluster is left down.
#
# usage: scripts/integration_test.sh [RUNS]     (default 100)
# Settings as for make docker-compose-up (.env, CLIENTS, SERVERS); the
# images must exist (make docker-image).  RUN_TIMEOUT bounds one run (s).
set -u
. "$(dirname "$0")/docker-lib.sh"

runs=${1:-100}
case $runs in
'' | 0* | *[!0-9]*)
	echo "usage: $0 [RUNS]  (RUNS a positive integer)" >&2
	exit 2
	;;
esac
timeout_s=${RUN_TIMEOUT:-300}
logdir=${INTEGRATION_LOGS:-integration-logs}

dl_load_env
dl_lock
dl_require_images
dl_prepare >/dev/null
[ "$CLIENTS" -gt 0 ] || dl_die "CLIENTS must be at least 1"

uplog=$(mktemp) || exit 1
cleanup() {
	dl_compose down --remove-orphans -v >/dev/null 2>&1
	rm -f "$uplog"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

k=1
while [ "$k" -le "$runs" ]; do
	start=$(date +%s)
	dl_compose down --remove-orphans -v >/dev/null 2>&1
	dl_clean_state
	why=""
	if ! dl_compose up -d >"$uplog" 2>&1; then
		why="compose up failed: $(tail -n 1 "$uplog")"
	elif ! dl_wait_clients "$timeout_s"; then
		why="agencies still running after ${timeout_s}s"
	else
		why=$(dl_check_run | tr '\n' ';')
	fi
	secs=$(($(date +%s) - start))
	if [ -z "$why" ]; then
		pass "run $k (${secs}s)"
	else
		rm -rf "$logdir/run-$k"
		dl_save_logs "$logdir/run-$k"
		cp "$uplog" "$logdir/run-$k/compose-up.log"
		fail "run $k (${secs}s): $why logs in $logdir/run-$k"
	fi
	k=$((k + 1))
done
cleanup
tally integration
