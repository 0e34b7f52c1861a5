#!/bin/bash
# The Swarm-on-GlusterFS stage of `make test`: the Swarm stack (3 replicas,
# 5 agencies, as in swarm_test.sh) whose state directory is a GlusterFS
# replica-3 volume instead of ./shared-volume.  The volume's three bricks
# live on three storage hosts in network namespaces (scripts/gluster-lib.sh,
# 10.79.0.1-3, apart from gluster3_test.sh's 10.78.0); this host mounts it
# at $G/state and the stack binds that mount as /shared-volume
# (STATE_DIR_HOST).  The stack runs beside anything .env describes: its own
# name (lottery-swgl), image tags (:swarm-gluster, tagged from the images
# make docker-image builds), monitor port (18080) and stack file.  Checks:
#   - the generated stack file binds the mount, not ./shared-volume, and
#     the mount is the volume's (fuse.glusterfs);
#   - OFD locks hold on the mount (lockcheck), from this host and from a
#     container that binds it as the replicas do;
#   - scripts/integration_test.sh --stack (SWGL_RUNS runs, 1 by default)
#     passes on it;
#   - the three bricks hold the same state files, bets.csv with every bet
#     once;
#   - the running replicas' /shared-volume is the mount;
#   - a replica's container `docker kill`ed mid-upload (the other replicas
#     paused, so the agencies caught with part of their bets stored are
#     counted exactly): Swarm starts a new task, every bet is stored once,
#     one draw, and the bricks agree again;
#   - the stack, the mount and the namespaces are gone at the end.
# SWGL_BIND_LOCAL=1 binds ./shared-volume instead of the mount, to see
# the mount and brick checks fail.  One line per check, then
# `swarm_gluster: N passed, M failed`.  Exits 77 with the reason when this
# machine cannot run it.  The engine becomes a swarm only when it is in
# none, and leaves it again at the end.
set -u
. "$(dirname "$0")/docker-lib.sh"

skip() {
	echo "Swarm-on-GlusterFS stage skipped: $*"
	exit 77
}

docker info >/dev/null 2>&1 || skip "docker does not answer"
case $(docker info -f '{{.Swarm.LocalNodeState}}/{{.Swarm.ControlAvailable}}' 2>/dev/null) in
inactive/* | active/true) ;;
*) skip "this engine is a swarm worker or between states" ;;
esac
. scripts/gluster-lib.sh
gl_require

NS=lottery-swgl-$$
VOL=lotswgl$$
NET=10.79.0
G=$(mktemp -d /tmp/lottery-swgl.XXXXXX) || exit 1
MOUNT=$G/state
TAG=${SWGL_TAG:-swarm-gluster}
CLIENTS=5
SERVERS=3
CLUSTER=stack
STACK_NAME=${SWGL_STACK_NAME:-lottery-swgl}
SERVER_IMAGE=lottery-server:$TAG
CLIENT_IMAGE=lottery-client:$TAG
MONITOR_PORT=${SWGL_MONITOR_PORT:-18080}
STACK_FILE_OUT=$G/stack.yaml
STATE_DIR_HOST=$MOUNT
[ -z "${SWGL_BIND_LOCAL-}" ] || STATE_DIR_HOST=./shared-volume
# Exported: integration_test.sh, the generator and dl_load_env read them
# (they win over .env).
export CLIENTS SERVERS CLUSTER STACK_NAME SERVER_IMAGE CLIENT_IMAGE \
    MONITOR_PORT STACK_FILE_OUT STATE_DIR_HOST
RUNS=${SWGL_RUNS:-1}
TIMEOUT=${RUN_TIMEOUT:-300}
locked=false
made=false
tagged=false

cleanup() {
	if $locked; then
		dl_stack_rm >/dev/null 2>&1
		$made && dl_swarm_leave >/dev/null
		$tagged && docker rmi "$SERVER_IMAGE" "$CLIENT_IMAGE" >/dev/null 2>&1
	fi
	gl_cleanup "$VOL"
	rm -rf "$G"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The volume and its mount first: no Docker use, so the lock is not held
# while glusterd starts.
gl_pool
gl_volume "$VOL" replica3
gl_mount "$VOL" "$MOUNT" || exit 1
echo "swarm_gluster: volume $VOL replica 3 on $NET.1-3 mounted at $MOUNT, $(glusterfs --version | head -n 1)"

dl_load_env
dl_lock
locked=true
[ "$(dl_swarm_state)" = inactive ] && made=true
# The images of this tree under the stage's own tags: another stack's
# deploy of :latest never changes what this one runs.  make builds the
# tags of .env.
if ! env -u SERVER_IMAGE -u CLIENT_IMAGE make -s docker-image >/dev/null ||
    ! docker tag lottery-server:latest "$SERVER_IMAGE" ||
    ! docker tag lottery-client:latest "$CLIENT_IMAGE"; then
	fail images
	tally swarm_gluster
	exit 1
fi
tagged=true
make -s build/bin/lockcheck || exit 1
dl_swarm_join
echo "swarm_gluster: stack $STACK_NAME, images $SERVER_IMAGE $CLIENT_IMAGE, monitor on $MONITOR_PORT, state $STATE_DIR_HOST"
dl_prepare >/dev/null
total=$(awk '{ s += $2 } END { print s }' "$DATA_DIR/expected.txt")

# is_mount DIR: DIR is a GlusterFS FUSE mount.
is_mount() {
	grep -qs " $1 fuse.glusterfs " /proc/mounts
}

# source_of SERVICE: the sources of the service's /shared-volume in the
# stack file, one a line.
source_of() {
	awk -v s="  $1:" '$0 == s { on = 1; next } /^  [a-z]/ { on = 0 }
	    on && /source:/ { src = $2 } on && /target: \/shared-volume$/ { print src }' \
	    "$STACK_FILE_OUT"
}

ok=true
for s in server monitor; do
	src=$(source_of "$s")
	[ "$src" = "$MOUNT" ] || { echo "$s binds ${src:-nothing} as /shared-volume, not $MOUNT"; ok=false; }
done
! grep -q 'source: .*shared-volume$' "$STACK_FILE_OUT" ||
    { echo "the stack file binds ./shared-volume"; ok=false; }
is_mount "$MOUNT" || { echo "$MOUNT is no GlusterFS mount"; ok=false; }
check "stack file binds the Gluster mount" $ok

# OFD locks on the mount, from this host and through a bind of it in a
# container of the replicas' image (the tool beside it; the image's
# loader and C library run it when it is not linked whole).
ok=true
build/bin/lockcheck "$MOUNT/lockcheck" || { echo "lockcheck on this host failed"; ok=false; }
docker run --rm --entrypoint /lockcheck -v "$DL_ROOT/build/bin/lockcheck:/lockcheck:ro" \
    -v "$MOUNT:/shared-volume" "$SERVER_IMAGE" /shared-volume/lockcheck ||
    { echo "lockcheck in a container failed"; ok=false; }
rm -f "$MOUNT/lockcheck"
check "lockcheck on the Gluster mount, host and container" $ok

check "integration --stack $RUNS on the Gluster mount" scripts/integration_test.sh --stack "$RUNS"

# bricks_exact: the three bricks hold the same state files, and bets.csv
# every bet once.  Prints the problems; 1 when there was any.
bricks_exact() {
	local n bad=0
	gl_same_bricks || bad=1
	n=$(lines "$G/h1/brick/bets.csv")
	[ "$n" -eq "$total" ] || { echo "brick 1's bets.csv has $n lines, expected $total"; bad=1; }
	n=$(sort -u "$G/h1/brick/bets.csv" 2>/dev/null | wc -l)
	[ "$n" -eq "$total" ] || { echo "brick 1's bets.csv has $n distinct lines, expected $total"; bad=1; }
	return $bad
}
check "bricks equal, $total distinct bets" bricks_exact

# A replica task's container killed (SIGKILL) while the agencies upload,
# as in swarm_test.sh: small batches one at a time (a copy of the stack
# file), so the kill comes while they upload, and the other replicas
# paused for it (dl_kill_mid_upload), so the state files tell exactly
# which agencies it caught mid-upload.
fast_file=$STACK_FILE_OUT
STACK_FILE_OUT=$G/stack-slow.yaml
sed 's|^\( *\)CLI_DATA_DIR: /data$|&\n\1CLI_BATCH_MAXAMOUNT: "10"\n\1CLI_BATCH_WINDOW: "1"|' \
    "$fast_file" >"$STACK_FILE_OUT"
[ "$(grep -c 'CLI_BATCH_WINDOW: "1"' "$STACK_FILE_OUT")" -eq "$CLIENTS" ] ||
    dl_die "cannot slow the agencies down in $STACK_FILE_OUT"
dl_stack_rm >/dev/null 2>&1
dl_clean_state
dl_stack_deploy >/dev/null 2>&1
if wait_lines "$STATE_DIR_HOST/bets.csv" 1 "$TIMEOUT"; then
	ok=true
	# Every replica running binds the mount.
	for id in $(dl_running_server_ids); do
		src=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/shared-volume"}}{{.Source}}{{end}}{{end}}' "$id")
		[ "$src" = "$MOUNT" ] || { echo "$(dl_name "$id") binds ${src:-nothing}, not $MOUNT"; ok=false; }
	done
	check "running replicas bind the Gluster mount" $ok
	victim=$(dl_running_server_ids | head -n 1)
	mid=$(dl_kill_mid_upload "$victim")
	echo "killed $(dl_name "$victim") at $(lines "$STATE_DIR_HOST/bets.csv") bets, $mid agencies mid-upload"
	ok=true
	[ "$mid" -gt 0 ] || { echo "no agency was mid-upload at the kill"; ok=false; }
	if ! dl_wait_clients "$TIMEOUT" || ! why=$(dl_check_run); then
		echo "$why"
		ok=false
	fi
	n=$(sort -u "$STATE_DIR_HOST/bets.csv" | wc -l)
	[ "$n" -eq "$total" ] || { echo "bets.csv has $n distinct lines, expected $total"; ok=false; }
	dl_wait_healthy "$SERVERS" 60 ||
	    { echo "$(dl_running_server_ids | wc -l) replicas running after the kill, want $SERVERS"; ok=false; }
	dl_running_server_ids | grep -q "^${victim:0:12}" && { echo "the killed container runs"; ok=false; }
	[ "$(dl_service_ids server | wc -l)" -gt "$SERVERS" ] ||
	    { echo "no new task was started"; ok=false; }
	check "replica killed mid-upload: restarted by swarm, exact" $ok
	$ok || dl_save_logs integration-logs/swarm-gluster-kill
	check "bricks equal after the kill, $total distinct bets" bricks_exact
else
	fail "replica-kill: no bet stored in ${TIMEOUT}s"
fi
STACK_FILE_OUT=$fast_file

# Everything goes: the stack, then the mount, the storage hosts and
# their namespaces.
dl_stack_rm
dl_check_gone "stack-rm"
gl_umount "$MOUNT"
gl_cleanup "$VOL"
ok=true
! grep -qs " $G/" /proc/mounts || { echo "mounts left: $(grep " $G/" /proc/mounts)"; ok=false; }
! ip netns list | grep -q "^$NS-" || { echo "namespaces left: $(ip netns list | grep "^$NS-")"; ok=false; }
[ -z "$(docker stack ls --format '{{.Name}}' | grep -x "$STACK_NAME")" ] ||
    { echo "stack $STACK_NAME left"; ok=false; }
check "stack, mount and namespaces gone" $ok

cleanup
trap - EXIT
if $made && [ "$(dl_swarm_state)" != inactive ]; then
	fail "swarm-leave: the engine is still in the swarm this test made"
fi
tally swarm_gluster
