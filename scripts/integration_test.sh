#!/bin/bash
# Runs the whole cluster RUNS times from a clean state (fresh containers,
# the state cleared; the network and the images are reused) and checks
# each run: every agency exits 0 and logs the winner count of data/expected.txt, the
# draw is logged exactly once across the replicas, bets.csv holds every
# bet once, and SERVERS replicas run at its end.  The logs of a failed run
# are kept in integration-logs/run-K/.  The cluster is left down.
#
# usage: scripts/integration_test.sh [--stack|--compose] [RUNS]  (default 100)
# Settings as for make docker-compose-up (.env, CLIENTS, SERVERS); the
# images must exist (make docker-image).  RUN_TIMEOUT bounds one run (s).
# The cluster is the Compose one, or the Swarm stack with --stack: the
# flag wins, then CLUSTER in the environment, then the kind the last
# `make docker-compose-up` or `make swarm-up` started (.cluster.env), then
# CLUSTER in .env.  A stack needs this engine to be a swarm manager (make
# swarm-up makes it one).
set -u
. "$(dirname "$0")/docker-lib.sh"

case ${1-} in
--stack) CLUSTER=stack; shift ;;
--compose) CLUSTER=compose; shift ;;
esac
runs=${1:-100}
case $runs in
'' | 0* | *[!0-9]*)
	echo "usage: $0 [--stack|--compose] [RUNS]  (RUNS a positive integer)" >&2
	exit 2
	;;
esac
timeout_s=${RUN_TIMEOUT:-300}
logdir=${INTEGRATION_LOGS:-integration-logs}

dl_load_env
dl_lock
dl_require_images
if [ "$CLUSTER" = stack ]; then
	dl_swarm_manager || dl_die "CLUSTER=stack but this engine is no swarm manager: run make swarm-up"
fi
dl_prepare >/dev/null
[ "$CLIENTS" -gt 0 ] || dl_die "CLIENTS must be at least 1"
echo "integration: $CLUSTER cluster, $SERVERS replicas, $CLIENTS agencies"

uplog=$(mktemp) || exit 1
cleanup() {
	dl_cluster_down >/dev/null 2>&1
	rm -f "$uplog"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

k=1
while [ "$k" -le "$runs" ]; do
	start=$(date +%s)
	# A whole run each time: no container of the last run is left and
	# the state is cleared; the network and images are reused.
	dl_cluster_reset >/dev/null 2>&1
	dl_clean_state
	why=""
	if ! dl_cluster_up >"$uplog" 2>&1; then
		why="$CLUSTER up failed: $(tail -n 1 "$uplog")"
	elif ! dl_wait_clients "$timeout_s"; then
		why="agencies still running after ${timeout_s}s"
	else
		why=$(dl_check_run | tr '\n' ';')
		# Every replica asked for served the run to its end.
		up=$(dl_running_server_ids | wc -l)
		[ "$up" -eq "$SERVERS" ] ||
		    why="$why$up replicas running, expected $SERVERS;"
	fi
	secs=$(($(date +%s) - start))
	if [ -z "$why" ]; then
		pass "run $k (${secs}s)"
	else
		rm -rf "$logdir/run-$k"
		dl_save_logs "$logdir/run-$k"
		cp "$uplog" "$logdir/run-$k/$CLUSTER-up.log"
		fail "run $k (${secs}s): $why logs in $logdir/run-$k"
	fi
	k=$((k + 1))
done
cleanup
tally integration
