#!/bin/bash
# The Swarm stage of `make test`: the cluster as a `docker stack deploy`
# stack on a single-node swarm, 3 replicas and 5 agencies.  Checks the
# stack files the generator writes, two whole runs through the integration
# test, a replica task's container killed mid-upload (Swarm starts a new
# task and the results stay exact), the echo check through the alias, a
# live scale of the replicas, and that the stack goes away whole.  One line
# per check, `PASS name` or `FAIL name`, then `swarm: N passed, M failed`.
# Exits 77 (skipped) when Docker does not answer or the engine is a swarm
# worker.  The engine becomes a swarm only when it is in none, and leaves
# it again at the end; a stack of the same name is replaced.
set -u
. "$(dirname "$0")/docker-lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "docker does not answer: Swarm stage skipped"
	exit 77
fi
case $(docker info -f '{{.Swarm.LocalNodeState}}/{{.Swarm.ControlAvailable}}' 2>/dev/null) in
inactive/* | active/true) ;;
*)
	echo "this engine is a swarm worker or between states: Swarm stage skipped"
	exit 77
	;;
esac

CLIENTS=5
SERVERS=3
CLUSTER=stack
dl_load_env
dl_lock
TIMEOUT=${RUN_TIMEOUT:-300}
made=false
[ "$(dl_swarm_state)" = inactive ] && made=true
tmpd=$(mktemp -d) || exit 1
cleanup() {
	dl_stack_rm >/dev/null 2>&1
	$made && dl_swarm_leave >/dev/null
	rm -rf "$tmpd"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! make -s docker-image >/dev/null; then
	fail images
	tally swarm
	exit 1
fi
dl_swarm_join
echo "swarm: node $(docker info -f '{{.Swarm.NodeID}}'), docker $(docker version -f '{{.Server.Version}}')"

# running_servers: ids of the replica containers running now.
running_servers() {
	dl_running_server_ids
}

# fresh_stack: a new stack on an empty state directory.
fresh_stack() {
	dl_stack_rm >/dev/null 2>&1
	dl_clean_state
	dl_stack_deploy >/dev/null 2>&1
}

# wait_running N SECONDS: until N replica containers run and are healthy.
wait_running() {
	dl_wait_healthy "$@"
}

# The generator: what Swarm needs and Compose-only keys absent, for
# several sizes; keys mounted one per agency; the NFS volume.
ok=true
for n in 0 1 5 100; do
	scripts/generar-stack.sh "$tmpd/s$n.yaml" "$n" 3 2>/dev/null || ok=false
	${DL_COMPOSE:-false} -f "$tmpd/s$n.yaml" config -q 2>/dev/null || ok=false
	[ "$(grep -c '^  client[0-9]*:$' "$tmpd/s$n.yaml")" -eq "$n" ] || ok=false
done
check "stack-config 0 1 5 100 clients" $ok

ok=true
f=$tmpd/s5.yaml
grep -q '^version: "3.8"$' "$f" || { echo "not format 3.8"; ok=false; }
! grep -Eq '^ +(scale|container_name|depends_on|build):' "$f" ||
    { echo "a key stack deploy rejects or ignores"; ok=false; }
# The server's deploy block, and an agency's restart policy.
block() {
	awk -v s="  $2:" '$0 == s { on = 1; next } /^  [a-z]/ { on = 0 }
	    on' "$1" | tr -s ' \n' ' '
}
case $(block "$f" server) in
*"deploy: replicas: 3 endpoint_mode: dnsrr "*"restart_policy: condition: on-failure "*) ;;
*) echo "server: no 3 dnsrr replicas restarted on failure"; ok=false ;;
esac
case $(block "$f" server) in
*"aliases: - $SERVER_NAME "*"healthcheck:"*) ;;
*) echo "server: no alias $SERVER_NAME or no health check"; ok=false ;;
esac
case $(block "$f" client3) in
*"CLI_KEY_FILE: /keys/agency.key"*"source: $DL_ROOT/${KEYS_DIR#./}/agency-3.key target: /keys/agency.key read_only: true"*"restart_policy: condition: on-failure"*) ;;
*) echo "client3: no own key or no on-failure restart"; ok=false ;;
esac
[ "$(grep -c 'agency-[0-9]*\.key$' "$f")" -eq 5 ] || { echo "keys mounted more than once"; ok=false; }
grep -q 'driver: overlay' "$f" && grep -q 'attachable: true' "$f" ||
    { echo "no attachable overlay network"; ok=false; }
STATE_NFS_ADDR=192.0.2.7 STATE_NFS_PATH=/lottery scripts/generar-stack.sh \
    "$tmpd/nfs.yaml" 5 3 2>/dev/null || ok=false
grep -q 'o: "addr=192.0.2.7,nfsvers=4.2,hard' "$tmpd/nfs.yaml" &&
    grep -q 'device: ":/lottery"' "$tmpd/nfs.yaml" &&
    ! grep -q 'shared-volume$' <(grep 'source:' "$tmpd/nfs.yaml") ||
    { echo "NFS state volume wrong"; ok=false; }
for o in nfsvers=4.2,hard,nolock nfsvers=4.2,soft nfsvers=4.2; do
	if STATE_NFS_ADDR=192.0.2.7 STATE_NFS_PATH=/l STATE_NFS_OPTS=$o \
	    scripts/generar-stack.sh "$tmpd/bad.yaml" 5 3 2>/dev/null; then
		echo "NFS options '$o' accepted"
		ok=false
	fi
done
check "stack-file swarm keys, dnsrr, keys, NFS" $ok

dl_prepare >/dev/null
check "integration --stack 2 runs" scripts/integration_test.sh --stack 2

# A replica task's container killed (SIGKILL) while the agencies upload:
# Swarm replaces the task, and the results are exact.  The agencies send
# small batches one at a time here (a copy of the stack file; its mounts
# are absolute paths), so the kill comes while they upload.
fast_file=$STACK_FILE_OUT
STACK_FILE_OUT=$(mktemp "${TMPDIR:-/tmp}/lottery-stack-slow.XXXXXX")
sed 's|^\( *\)CLI_DATA_DIR: /data$|&\n\1CLI_BATCH_MAXAMOUNT: "10"\n\1CLI_BATCH_WINDOW: "1"|' \
    "$fast_file" >"$STACK_FILE_OUT"
[ "$(grep -c 'CLI_BATCH_WINDOW: "1"' "$STACK_FILE_OUT")" -eq "$CLIENTS" ] ||
    fail "cannot slow the agencies down in $STACK_FILE_OUT"
fresh_stack
if wait_lines "$STATE_DIR_HOST/bets.csv" 1 "$TIMEOUT"; then
	victim=$(running_servers | head -n 1)
	# The other replicas paused for the kill: nothing is stored until
	# the unpause, so the state files tell exactly which agencies the
	# kill caught mid-upload.
	others=$(running_servers | grep -v "^$victim")
	# shellcheck disable=SC2086
	[ -z "$others" ] || docker pause $others >/dev/null
	docker kill "$victim" >/dev/null
	at=$(lines "$STATE_DIR_HOST/bets.csv")
	mid=0
	while read -r a n _; do
		s=$(LC_ALL=C grep -c "^$a," "$STATE_DIR_HOST/bets.csv")
		[ "$s" -gt 0 ] && [ "$s" -lt "$n" ] &&
		    ! grep -qx "$a" "$STATE_DIR_HOST/agencies_closed.txt" \
		    2>/dev/null && mid=$((mid + 1))
	done <"$DATA_DIR/expected.txt"
	# shellcheck disable=SC2086
	[ -z "$others" ] || docker unpause $others >/dev/null
	echo "killed $(dl_name "$victim") at $at bets, $mid agencies mid-upload"
	ok=true
	if ! dl_wait_clients "$TIMEOUT" || ! why=$(dl_check_run); then
		echo "$why"
		ok=false
	fi
	[ "$mid" -gt 0 ] ||
	    { echo "no agency was mid-upload at the kill"; ok=false; }
	if ! wait_running "$SERVERS" 60; then
		echo "$(running_servers | wc -l) replicas running after the kill, want $SERVERS"
		ok=false
	fi
	running_servers | grep -q "^${victim:0:12}" && { echo "the killed container runs"; ok=false; }
	[ "$(dl_service_ids server | wc -l)" -gt "$SERVERS" ] ||
	    { echo "no new task was started"; ok=false; }
	check "replica-kill restarted by swarm, exact" $ok
	$ok || dl_save_logs integration-logs/swarm-replica-kill
else
	fail "replica-kill: no bet stored in ${TIMEOUT}s"
fi
rm -f "$STACK_FILE_OUT"
STACK_FILE_OUT=$fast_file

# Every replica answers through the alias (the echo rotates over them).
ok=true
for _ in 1 2 3 4 5 6; do
	scripts/validar-echo-server.sh >/dev/null || ok=false
done
check "echo-server through the alias" $ok

# Scaling live: one more replica joins, healthy, and answers.
docker service scale -d "${STACK_NAME}_server=$((SERVERS + 1))" >/dev/null
ok=true
wait_running $((SERVERS + 1)) 60 || ok=false
scripts/validar-echo-server.sh >/dev/null || ok=false
check "scale-live to $((SERVERS + 1)) replicas" $ok

# Removing the stack leaves neither containers nor its network.
dl_stack_rm
dl_check_gone "stack-rm"

cleanup
if $made && [ "$(dl_swarm_state)" != inactive ]; then
	fail "swarm-leave: the engine is still in the swarm this test made"
fi
tally swarm
