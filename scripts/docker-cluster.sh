#!/bin/bash
# The steps behind the docker-* make targets: building the images from
# staged root file systems (only those whose inputs changed), bringing the
# Compose cluster up, down, or showing its logs, the same as a Swarm stack
# (swarm-up, swarm-down), and clearing the shared state for a new lottery.
# Settings come from .env (see .env.example); CLIENTS, SERVERS and BIN_DIR
# in the environment override it.
#
# usage: scripts/docker-cluster.sh image|up|down|logs|new-lottery
#        scripts/docker-cluster.sh keys|keys-remove
#        scripts/docker-cluster.sh swarm-up|swarm-down|swarm-logs
#        scripts/docker-cluster.sh keys-rotate|keys-revoke AGENCY
set -eu
. "${0%/*}/docker-lib.sh"

# build_image PROG TAG APPLETS [MORE]: stages the root file system of one
# program, with lotteryctl and the programs MORE names beside it and the
# busybox applets given, under build/docker/ and builds its image from
# it.  Nothing is done (in milliseconds, no process started) when the
# stamp build/docker/PROG.stamp, written after the last build, is newer
# than every input (the binaries, the Dockerfile, rootfs.sh, busybox)
# and names this tag, these applets and the image id the tag still has.
# IMAGES is dl_image_ids's list.
build_image() {
	prog=$1
	tag=$2
	ctx=${OUT:-build}/docker/$prog
	stamp=$ctx.stamp
	bins="$prog lotteryctl ${4-}"
	inputs="docker/Dockerfile.$prog docker/rootfs.sh"
	for b in $bins; do
		inputs="$inputs $BIN_DIR/$b"
	done
	[ -z "$3" ] || inputs="$inputs ${BUSYBOX:-/bin/busybox}"
	for b in $bins; do
		[ -x "$BIN_DIR/$b" ] || dl_die "$BIN_DIR/$b missing: run make build"
	done
	old=
	! dl_image_id "$tag" "$IMAGES" || old=$DL_IMAGE_ID
	want="tag $tag applets $3 image $old"
	if [ -n "$old" ] && [ -f "$stamp" ] && stamp_fresh "$stamp" $inputs &&
	    read -r have <"$stamp" && [ "$have" = "$want" ]; then
		return 0
	fi
	rm -f "$stamp"
	# shellcheck disable=SC2046 # one word per program
	APPLETS=$3 docker/rootfs.sh "$ctx" $(for b in $bins; do
		echo "$BIN_DIR/$b"; done)
	# The CLI's notice that the legacy builder is deprecated is noise
	# here: the build's messages are shown only when it fails.
	if ! docker build -q -f "docker/Dockerfile.$prog" -t "$tag" "$ctx" \
	    >"$ctx.log" 2>&1; then
		cat "$ctx.log" >&2
		dl_die "building $tag failed"
	fi
	new=$(docker image inspect -f '{{.Id}}' "$tag") || dl_die "$tag: not built"
	# The image the tag named before is left untagged (<none>): remove
	# it, unless a container still uses it or another tag names it.
	if [ -n "$old" ] && [ "$old" != "$new" ] &&
	    [ -z "$(docker image inspect -f '{{join .RepoTags ""}}' "$old" 2>/dev/null)" ]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
	echo "tag $tag applets $3 image $new" >"$stamp"
	echo "built $tag: $(docker image inspect -f '{{.Size}}' "$tag" |
	    awk '{ printf "%.1f MB", $1 / 1000000 }')"
}

# stamp_fresh STAMP FILE...: 0 when every FILE exists and is not newer
# than STAMP.
stamp_fresh() {
	local stamp=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] && ! [ "$f" -nt "$stamp" ] || return 1
	done
}

# Both images, each built only when its inputs changed.  The server image
# keeps a shell and the applets an operator runs with docker exec (wc -l
# /shared-volume/bets.csv) or that clear the shared state
# (dl_clean_state); the client image needs none.
build_images() {
	IMAGES=$(dl_image_ids) || dl_die "docker does not answer"
	build_image server "$SERVER_IMAGE" "sh cat ls rm wc" monitor
	build_image client "$CLIENT_IMAGE" ""
}

# Both Compose versions need these files to exist: a missing bind-mount
# source would be created as an empty directory.
check_mounts() {
	for f in server/config.ini client/config.yaml; do
		[ -f "$f" ] || dl_die "$f missing"
	done
}

cmd=${1-}
case $cmd in
image)
	dl_load_env
	build_images
	;;
up)
	dl_create_env
	DL_FRESH=1 dl_load_env
	dl_lock
	check_mounts
	build_images
	dl_prepare
	dl_check_state
	printf 'CLIENTS=%s\nSERVERS=%s\nCLUSTER=compose\n' "$CLIENTS" "$SERVERS" >.cluster.env
	echo "starting $SERVERS replicas and $CLIENTS agencies ($COMPOSE_FILE_OUT)"
	dl_compose up -d --remove-orphans
	echo "status page: http://localhost:$MONITOR_PORT/"
	;;
swarm-up)
	dl_create_env
	CLUSTER=stack DL_FRESH=1 dl_load_env
	dl_lock
	check_mounts
	build_images
	dl_prepare
	dl_check_state
	dl_swarm_join
	printf 'CLIENTS=%s\nSERVERS=%s\nCLUSTER=stack\n' "$CLIENTS" "$SERVERS" >.cluster.env
	echo "deploying stack $STACK_NAME: $SERVERS replicas and $CLIENTS agencies ($STACK_FILE_OUT)"
	dl_stack_deploy
	echo "status page: http://localhost:$MONITOR_PORT/"
	;;
swarm-down)
	CLUSTER=stack dl_load_env
	dl_lock
	if dl_swarm_manager; then
		dl_stack_rm
	else
		echo "not in a swarm: no stack to remove"
	fi
	dl_swarm_leave
	# The scripts go back to the Compose cluster by default.
	[ ! -f .cluster.env ] || sed -i '/^CLUSTER=stack$/d' .cluster.env
	;;
swarm-logs)
	CLUSTER=stack dl_load_env
	dl_swarm_manager || dl_die "not in a swarm: run make swarm-up"
	for s in $(docker stack services -q "$STACK_NAME"); do
		docker service logs -f --timestamps "$s" &
	done
	wait
	;;
down)
	CLUSTER=compose dl_load_env
	dl_lock
	[ -f "$COMPOSE_FILE_OUT" ] || { echo "no $COMPOSE_FILE_OUT: nothing to stop"; exit 0; }
	dl_compose down --remove-orphans -v
	;;
logs)
	CLUSTER=compose dl_load_env
	[ -f "$COMPOSE_FILE_OUT" ] || dl_die "no $COMPOSE_FILE_OUT: run make docker-compose-up"
	dl_compose logs -f
	;;
new-lottery)
	# The Compose cluster is removed first (its replicas hold the old
	# lottery's index); a running stack must be removed by its owner.
	dl_load_env
	dl_lock
	[ -z "$(CLUSTER=stack dl_ps -q 2>/dev/null)" ] ||
	    dl_die "the Swarm stack $STACK_NAME runs: make swarm-down first"
	if [ -n "$(CLUSTER=compose dl_ps -a -q 2>/dev/null)" ]; then
		CLUSTER=compose dl_compose down --remove-orphans -v
	fi
	dl_clean_state
	echo "cleared $STATE_DIR_HOST: the next make docker-compose-up starts a new lottery"
	;;
keys)
	dl_load_env
	scripts/keys.sh ensure "$KEYS_DIR" "$CLIENTS"
	;;
keys-rotate | keys-revoke)
	dl_load_env
	[ -n "${2-}" ] || dl_die "say which agency: make $cmd AGENCY=N"
	scripts/keys.sh "${cmd#keys-}" "$KEYS_DIR" "$2"
	;;
keys-remove)
	dl_load_env
	rm -rf "$KEYS_DIR"
	echo "removed $KEYS_DIR"
	;;
*)
	echo "usage: $0 image|up|down|logs|new-lottery|swarm-up|swarm-down|swarm-logs|keys|keys-remove|keys-rotate N|keys-revoke N" >&2
	exit 2
	;;
esac
