# Shared by the Docker scripts (sourced, not run): finding the repository,
# loading .env, choosing the Compose command, preparing the agency data and
# the compose file, and checking the outcome of one cluster run.  Every
# function is prefixed dl_.  It also brings in common.sh (line counts,
# waits, PASS/FAIL tallies), but not lib.sh: the Docker scripts need no
# host binaries started from build/bin.

. "${BASH_SOURCE[0]%/*}/common.sh"

# The repository root, from the running script's own directory (scripts/),
# with no process started: make docker-compose-up goes through here twice.
case $0 in
*/*) cd "${0%/*}/.." || exit 1 ;;
*) cd .. || exit 1 ;;
esac
DL_ROOT=$PWD

# COMPOSE_CMD when set ("docker compose" or "docker-compose"), else the v2
# plugin when it answers, else the standalone v1 program.  v1 reads the
# generated file (format 2.4, `scale:`) the same way; both ignore deploy:.
# The choice is exported: the scripts this one runs do not ask again.
if [ -n "${COMPOSE_CMD-}" ]; then
	DL_COMPOSE=$COMPOSE_CMD
elif [ -n "${DL_COMPOSE-}" ]; then
	:
elif docker compose version >/dev/null 2>&1; then
	DL_COMPOSE="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
	DL_COMPOSE="docker-compose"
else
	DL_COMPOSE=""
fi
export DL_COMPOSE

dl_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# Loads .env (or .env.example when .env is missing; dl_create_env makes
# the copy), then the counts the last `make docker-compose-up` used
# (.cluster.env), so the scripts work on the cluster that was brought up.
# The settings in DL_ENV_WINS already set and non-empty in the environment
# win, so `make docker-compose-up CLIENTS=10` overrides .env, and a test
# stage can run its own stack (name, images, port, state directory) beside
# the one .env describes.  `up` itself sets
# DL_FRESH to start from .env alone.
DL_ENV_WINS="CLIENTS SERVERS AUTH CLUSTER STATE_NFS_ADDR STATE_NFS_PATH STATE_NFS_OPTS
STATE_DIR_HOST STACK_NAME STACK_FILE_OUT SERVER_IMAGE CLIENT_IMAGE MONITOR_PORT"
dl_load_env() {
	for _dl_v in $DL_ENV_WINS; do
		eval "_dl_env_$_dl_v=\${$_dl_v-}"
	done
	if [ -f .env ]; then
		. ./.env
	elif [ -f .env.example ]; then
		. ./.env.example
	fi
	if [ -z "${DL_FRESH-}" ] && [ -f .cluster.env ]; then
		. ./.cluster.env
	fi
	for _dl_v in $DL_ENV_WINS; do
		eval "if [ -n \"\$_dl_env_$_dl_v\" ]; then $_dl_v=\$_dl_env_$_dl_v; fi"
	done
	CLIENTS=${CLIENTS:-5}
	SERVERS=${SERVERS:-3}
	SERVER_NAME=${SERVER_NAME:-server}
	SERVER_PORT=${SERVER_PORT:-12345}
	MONITOR_PORT=${MONITOR_PORT:-8080}
	DOCKER_SUBNET=${DOCKER_SUBNET:-172.25.125.0/24}
	COMPOSE_FILE_OUT=${COMPOSE_FILE_OUT:-docker-compose-dev.yaml}
	COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-lottery}
	SERVER_IMAGE=${SERVER_IMAGE:-lottery-server:latest}
	CLIENT_IMAGE=${CLIENT_IMAGE:-lottery-client:latest}
	DATA_DIR=${DATA_DIR:-./data}
	GEN_BETS=${GEN_BETS:-80000}
	GEN_SEED=${GEN_SEED:-1}
	GEN_WINNERS=${GEN_WINNERS:-3}
	BIN_DIR=${BIN_DIR:-${OUT:-build}/bin}
	AUTH=${AUTH:-on}
	KEYS_DIR=${KEYS_DIR:-./.keys}
	STATE_DIR_HOST=${STATE_DIR_HOST:-./shared-volume}
	CLUSTER=${CLUSTER:-compose}
	case $CLUSTER in
	compose | stack) ;;
	*) dl_die "CLUSTER must be compose or stack: '$CLUSTER'" ;;
	esac
	STACK_NAME=${STACK_NAME:-lottery-stack}
	STACK_FILE_OUT=${STACK_FILE_OUT:-docker-stack.yaml}
	STATE_NFS_ADDR=${STATE_NFS_ADDR-}
	STATE_NFS_PATH=${STATE_NFS_PATH-}
	STATE_NFS_OPTS=${STATE_NFS_OPTS:-nfsvers=4.2,hard,timeo=600,retrans=2}
	DL_SWARM_MARK=${OUT:-build}/swarm-created
	export CLIENTS SERVERS SERVER_NAME SERVER_PORT MONITOR_PORT DOCKER_SUBNET \
	    COMPOSE_FILE_OUT COMPOSE_PROJECT_NAME SERVER_IMAGE CLIENT_IMAGE \
	    DATA_DIR GEN_BETS GEN_SEED GEN_WINNERS BIN_DIR AUTH KEYS_DIR \
	    CLUSTER STACK_NAME STACK_FILE_OUT STATE_NFS_ADDR STATE_NFS_PATH \
	    STATE_NFS_OPTS STATE_DIR_HOST
}

# Serialises the scripts that start and stop the cluster: two of them at
# once would tear down each other's containers.  The lock is held until
# the script exits; the scripts it runs inherit it (DL_LOCKED).
dl_lock() {
	[ -z "${DL_LOCKED-}" ] || return 0
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>"${TMPDIR:-/tmp}/$COMPOSE_PROJECT_NAME-docker.lock" || return 0
	if ! flock -n 9; then
		echo "waiting for another run on Compose project $COMPOSE_PROJECT_NAME" >&2
		flock 9
	fi
	DL_LOCKED=1
	export DL_LOCKED
}

dl_create_env() {
	[ -f .env ] && return 0
	cp .env.example .env || dl_die "cannot create .env"
	echo "created .env from .env.example"
}

# Runs Compose on this project's file, under a fixed project name so the
# scripts find the containers and the network by label.
# Compose v1 runs each service's task, and inside it each container's, on
# one pool of COMPOSE_PARALLEL_LIMIT threads (64 by default): with more
# services than that, the service tasks can hold every thread while the
# container tasks they wait for queue behind them, and `up` hangs for good
# (seen here with 100 agencies).  A limit above services plus containers
# never fills; v2 reads it as its --parallel, which at that size changes
# nothing.  A limit the user set is kept.
dl_compose() {
	[ -n "$DL_COMPOSE" ] || dl_die "neither 'docker compose' nor docker-compose found"
	COMPOSE_PARALLEL_LIMIT=${COMPOSE_PARALLEL_LIMIT:-$((2 * (${CLIENTS:-5} + ${SERVERS:-3}) + 16))} \
	    $DL_COMPOSE -p "$COMPOSE_PROJECT_NAME" -f "$COMPOSE_FILE_OUT" "$@"
}

# The label every container and network of the cluster carries, and the
# label naming a container's service: Compose's, or the stack's when
# CLUSTER=stack.
dl_label() {
	if [ "$CLUSTER" = stack ]; then
		echo "com.docker.stack.namespace=$STACK_NAME"
	else
		echo "com.docker.compose.project=$COMPOSE_PROJECT_NAME"
	fi
}

dl_service_label() {
	if [ "$CLUSTER" = stack ]; then
		echo "com.docker.swarm.service.name=${STACK_NAME}_$1"
	else
		echo "com.docker.compose.service=$1"
	fi
}

# dl_ps ARG...: docker ps over this cluster's containers only.
dl_ps() {
	docker ps --filter "label=$(dl_label)" "$@"
}

# dl_networks: ids of this cluster's networks.
dl_networks() {
	docker network ls -q --filter "label=$(dl_label)"
}

# dl_check_gone NAME: pass NAME when the cluster left neither containers
# nor networks behind (after its down or stack rm), else fail it with the
# counts (pass and fail come from common.sh).
dl_check_gone() {
	local left nets
	left=$(dl_ps -a -q | wc -l)
	nets=$(dl_networks | wc -l)
	if [ "$left" -eq 0 ] && [ "$nets" -eq 0 ]; then
		pass "$1"
	else
		fail "$1: $left containers and $nets networks left"
	fi
}

# Ids of the cluster's containers of one service (running or not), newest
# first.  Under Swarm a task that failed and was replaced keeps its
# container beside the new one.
dl_service_ids() {
	dl_ps -a -q --filter "label=$(dl_service_label "$1")"
}

dl_running_server_ids() {
	dl_ps -q --filter "label=$(dl_service_label server)"
}

dl_network() {
	dl_networks | head -n 1
}

dl_name() {
	docker inspect -f '{{.Name}}' "$1" | sed 's,^/,,'
}

# The data matches when it was made with the current parameters; the
# stamp file records them.  Stale data also makes the shared state stale,
# so both go.
dl_prepare_data() {
	_dl_want="agencies=$CLIENTS bets=$GEN_BETS seed=$GEN_SEED winners=$GEN_WINNERS"
	if [ "$CLIENTS" -eq 0 ]; then
		return 0
	fi
	if [ -f "$DATA_DIR/expected.txt" ] && [ -f "$DATA_DIR/.params" ] &&
	    [ "$(cat "$DATA_DIR/.params")" = "$_dl_want" ] &&
	    [ "$(ls "$DATA_DIR" | grep -c '^agency-[0-9]*\.csv$')" -eq "$CLIENTS" ]; then
		return 0
	fi
	[ -x "$BIN_DIR/gendata" ] || dl_die "$BIN_DIR/gendata missing: run make build"
	mkdir -p "$DATA_DIR" || dl_die "cannot create $DATA_DIR"
	rm -f "$DATA_DIR"/agency-*.csv "$DATA_DIR/expected.txt" "$DATA_DIR/.params"
	"$BIN_DIR/gendata" -o "$DATA_DIR" -a "$CLIENTS" -n "$GEN_BETS" \
	    -s "$GEN_SEED" -w "$GEN_WINNERS" || dl_die "gendata failed"
	echo "$_dl_want" >"$DATA_DIR/.params"
	echo "generated $CLIENTS agency files in $DATA_DIR"
	dl_clean_state
}

# Removes the replicas' shared state, for a new lottery: the bets, the
# closings, the draw's log marker and cluster.meta, the agency count the
# directory belongs to (left behind, replicas started with another count
# would refuse it).  A
# file left by another user id is removed from inside a throwaway
# container instead.  Only with no replica running (docs/design.md).
DL_STATE_FILES="bets.csv agencies_closed.txt draw.logged cluster.meta"
dl_clean_state() {
	mkdir -p "$STATE_DIR_HOST"
	(cd "$STATE_DIR_HOST" && rm -f $DL_STATE_FILES) 2>/dev/null && return 0
	case $STATE_DIR_HOST in
	/*) _dl_s=$STATE_DIR_HOST ;;
	*) _dl_s=$DL_ROOT/${STATE_DIR_HOST#./} ;;
	esac
	docker run --rm --entrypoint sh -v "$_dl_s:/s" \
	    "$SERVER_IMAGE" -c "cd /s && rm -f $DL_STATE_FILES"
}

# Stops the script, before anything is started, when the state directory
# belongs to a lottery of another agency count: its replicas would refuse
# to start.  The host's replica binary compares without writing
# (`server -n`, which reads cluster.meta).  An NFS state directory is not
# on this host: the replicas check it themselves.
dl_check_state() {
	local why
	[ "$CLIENTS" -gt 0 ] || return 0
	[ "$CLUSTER" = compose ] || [ -z "$STATE_NFS_ADDR" ] || return 0
	[ -x "$BIN_DIR/server" ] || dl_die "$BIN_DIR/server missing: run make build"
	why=$(AGENCIES_AMOUNT=$CLIENTS STATE_DIR=$STATE_DIR_HOST AGENCY_KEYS= \
	    "$BIN_DIR/server" -n -c server/config.ini 2>&1 >/dev/null) && return 0
	case $why in
	*"records AGENCIES_AMOUNT="*)
		why=${why#*cluster.meta records }
		dl_die "nothing started: $STATE_DIR_HOST holds a lottery with ${why%% but *}, not $CLIENTS agencies; run 'make new-lottery' to clear it and start a new one"
		;;
	esac
	dl_die "nothing started: ${why#server: }"
}

# Agency data, the state directory and the cluster's file: the compose
# file, or the stack file when CLUSTER=stack.
dl_prepare() {
	dl_prepare_data
	mkdir -p "$STATE_DIR_HOST"
	if [ "$CLUSTER" = stack ]; then
		scripts/generar-stack.sh "$STACK_FILE_OUT" "$CLIENTS" "$SERVERS" ||
		    dl_die "cannot generate $STACK_FILE_OUT"
	else
		scripts/generar-compose.sh "$COMPOSE_FILE_OUT" "$CLIENTS" "$SERVERS" ||
		    dl_die "cannot generate $COMPOSE_FILE_OUT"
	fi
}

# The engine's swarm state: inactive, active, pending, ...
dl_swarm_state() {
	docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null
}

# 0 when this engine is a swarm manager (can deploy a stack).
dl_swarm_manager() {
	[ "$(dl_swarm_state)" = active ] &&
	    [ "$(docker info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ]
}

# Makes this engine a single-node swarm when it is in none, and remembers
# that in $DL_SWARM_MARK so dl_swarm_leave leaves only a swarm made here.
# A swarm the engine is already in is used as it is (it must be a manager).
dl_swarm_join() {
	case $(dl_swarm_state) in
	active)
		dl_swarm_manager || dl_die "this engine is a swarm worker: deploy from a manager"
		return 0
		;;
	inactive) ;;
	*) dl_die "swarm state '$(dl_swarm_state)': neither in a swarm nor out of one" ;;
	esac
	# Loopback only: nothing outside this host can join, and ingress is
	# never used (no published ports; the services are dnsrr).
	docker swarm init --advertise-addr 127.0.0.1 \
	    --listen-addr 127.0.0.1:2377 >/dev/null || dl_die "docker swarm init failed"
	mkdir -p "$(dirname "$DL_SWARM_MARK")"
	date -u '+%Y-%m-%d %H:%M:%S' >"$DL_SWARM_MARK"
	echo "created a single-node swarm (left again by make swarm-down)"
}

# Leaves the swarm only when dl_swarm_join made it.
dl_swarm_leave() {
	[ -f "$DL_SWARM_MARK" ] || return 0
	if [ "$(dl_swarm_state)" = active ]; then
		docker swarm leave --force >/dev/null || return 1
		echo "left the swarm made by make swarm-up"
	fi
	# swarm init made this bridge; leave makes no use of it any more.
	docker network rm docker_gwbridge >/dev/null 2>&1
	true
	rm -f "$DL_SWARM_MARK"
}

# Deploys (or updates) the stack from $STACK_FILE_OUT.  The images exist
# only on this engine: no registry is asked for their digests.
dl_stack_deploy() {
	docker stack deploy --resolve-image never --prune \
	    -c "$STACK_FILE_OUT" "$STACK_NAME"
}

# Removes the stack and waits (up to 60 s) until its containers and its
# network are gone: `docker stack rm` returns before they are, and a new
# deploy under the same name would meet the old network.
dl_stack_rm() {
	dl_swarm_manager || return 0
	docker stack rm "$STACK_NAME" >/dev/null 2>&1
	_dl_n=120
	while [ $_dl_n -gt 0 ]; do
		[ -z "$(dl_ps -a -q)" ] && [ -z "$(dl_networks)" ] && return 0
		sleep 0.5
		_dl_n=$((_dl_n - 1))
	done
	echo "stack $STACK_NAME not gone after 60s" >&2
	return 1
}

# dl_cluster_up / dl_cluster_down: start the prepared cluster detached,
# or remove it with its network, whichever CLUSTER says.
dl_cluster_up() {
	if [ "$CLUSTER" = stack ]; then
		dl_stack_deploy
	else
		dl_compose up -d --remove-orphans
	fi
}

# dl_cluster_reset: every container of the cluster removed (killed: the
# state they leave is cleared next), the Compose network kept for the
# next dl_cluster_up, which then only creates containers.  A stack is
# removed whole (its network goes with it).
dl_cluster_reset() {
	local ids
	if [ "$CLUSTER" = stack ]; then
		dl_stack_rm
		return
	fi
	ids=$(dl_ps -a -q) || return 1
	[ -z "$ids" ] || docker rm -f -v $ids >/dev/null
}

dl_cluster_down() {
	if [ "$CLUSTER" = stack ]; then
		dl_stack_rm
	else
		dl_compose down --remove-orphans -v
	fi
}

# Both images in one call (the engine lists its images faster than it
# inspects two).
dl_require_images() {
	local have
	have=$(dl_image_ids) || dl_die "docker does not answer"
	for _dl_i in "$SERVER_IMAGE" "$CLIENT_IMAGE"; do
		dl_image_id "$_dl_i" "$have" ||
		    dl_die "image $_dl_i missing: run make docker-image"
	done
}

# Every image of the engine, "repository:tag id" a line.
dl_image_ids() {
	docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'
}

# dl_image_id TAG LIST: sets DL_IMAGE_ID to the id TAG has in LIST
# (dl_image_ids); 1 when none.  A tag without its version part is
# :latest, as docker reads it.
dl_image_id() {
	local t=$1 name id
	case ${t##*/} in *:*) ;; *) t=$t:latest ;; esac
	DL_IMAGE_ID=
	while read -r name id; do
		[ "$name" = "$t" ] || continue
		DL_IMAGE_ID=$id
		return 0
	done <<<"$2"
	return 1
}

# The agency containers' names, client1..client$1 (default: CLIENTS).
dl_client_names() {
	_dl_i=1
	while [ "$_dl_i" -le "${1:-$CLIENTS}" ]; do
		echo "client$_dl_i"
		_dl_i=$((_dl_i + 1))
	done
}

# The container of agency $1: client$1 under Compose; under Swarm the
# newest container of its service (a task that failed was replaced).
dl_client_id() {
	if [ "$CLUSTER" = stack ]; then
		dl_service_ids "client$1" | head -n 1
	else
		echo "client$1"
	fi
}

# The restart policy of an agency service under Swarm: a failed agency is
# started again at most this many times (a finished one never).
DL_CLIENT_ATTEMPTS=3

# 0 when agency $1's service is done: one of its containers exited 0, or
# none runs and the restart policy's attempts are spent.
dl_stack_client_done() {
	_dl_l=label=$(dl_service_label "client$1")
	[ -n "$(dl_ps -a -q --filter "$_dl_l" --filter exited=0)" ] && return 0
	[ -z "$(dl_ps -q --filter "$_dl_l")" ] &&
	    [ "$(dl_ps -a -q --filter "$_dl_l" | wc -l)" -gt "$DL_CLIENT_ATTEMPTS" ]
}

# Waits (up to $1 seconds) for client1..clientN to exit.
dl_wait_clients() {
	if [ "$CLUSTER" = stack ]; then
		_dl_end=$(($(date +%s) + $1))
		_dl_a=1
		while [ "$_dl_a" -le "$CLIENTS" ]; do
			if dl_stack_client_done "$_dl_a"; then
				_dl_a=$((_dl_a + 1))
				continue
			fi
			[ "$(date +%s)" -lt "$_dl_end" ] || return 1
			sleep 0.5
		done
		return 0
	fi
	_dl_names=$(dl_client_names)
	[ -n "$_dl_names" ] || return 0
	# shellcheck disable=SC2086
	timeout "$1" docker wait $_dl_names >/dev/null
}

# Checks a finished run against $DATA_DIR/expected.txt.  Prints one
# reason per problem on stdout and returns non-zero when there was any.
dl_check_run() {
	local codes=""
	_dl_bad=0
	_dl_total=0
	# Under Compose every agency's exit status in one call: "clientN rc".
	if [ "$CLUSTER" = compose ]; then
		# shellcheck disable=SC2046
		codes=$(docker inspect -f '{{.Name}} {{.State.ExitCode}}' \
		    $(dl_client_names) 2>/dev/null | sed 's,^/,,')
	fi
	while read -r _dl_ag _dl_bets _dl_win _dl_docs; do
		_dl_total=$((_dl_total + _dl_bets))
		if [ "$CLUSTER" = compose ]; then
			_dl_rc=$(printf '%s\n' "$codes" |
			    sed -n "s/^client$_dl_ag //p")
		else
			_dl_rc=$(docker inspect -f '{{.State.ExitCode}}' \
			    "$(dl_client_id "$_dl_ag")" 2>/dev/null)
		fi
		_dl_c=client$_dl_ag
		if [ "$_dl_rc" != 0 ]; then
			echo "$_dl_c exited ${_dl_rc:-?}"
			_dl_bad=1
		fi
		_dl_k=$(docker logs "$(dl_client_id "$_dl_ag")" 2>&1 |
		    sed -n 's/.*cant_ganadores: \([0-9][0-9]*\).*/\1/p' | tail -n 1)
		if [ "$_dl_k" != "$_dl_win" ]; then
			echo "$_dl_c cant_ganadores ${_dl_k:-none}, expected $_dl_win"
			_dl_bad=1
		fi
	done <"$DATA_DIR/expected.txt"

	_dl_draws=0
	for _dl_id in $(dl_service_ids server); do
		_dl_n=$(docker logs "$_dl_id" 2>&1 |
		    grep -c 'action: sorteo | result: success')
		_dl_draws=$((_dl_draws + _dl_n))
	done
	if [ "$_dl_draws" -ne 1 ]; then
		echo "$_dl_draws draws logged, expected 1"
		_dl_bad=1
	fi

	_dl_id=$(dl_running_server_ids | head -n 1)
	if [ -z "$_dl_id" ]; then
		echo "no replica running to count bets.csv"
		return 1
	fi
	_dl_lines=$(docker exec "$_dl_id" wc -l /shared-volume/bets.csv 2>/dev/null |
	    awk '{ print $1 }')
	if [ "$_dl_lines" != "$_dl_total" ]; then
		echo "bets.csv has ${_dl_lines:-no} lines, expected $_dl_total"
		_dl_bad=1
	fi
	return $_dl_bad
}

# dl_wait_healthy N SECONDS: until N replica containers run and are
# healthy; 1 when they are not within SECONDS.
dl_wait_healthy() {
	_dl_n=$(($2 * 2))
	while [ $_dl_n -gt 0 ]; do
		[ "$(dl_ps -q --filter "label=$(dl_service_label server)" \
		    --filter health=healthy | wc -l)" -eq "$1" ] && return 0
		sleep 0.5
		_dl_n=$((_dl_n - 1))
	done
	return 1
}

# dl_mid_upload_now: the agencies that have stored part of their file and
# not closed, one a line, read from the state files.  Exact only while no
# replica runs.
dl_mid_upload_now() {
	while read -r _a _n _; do
		_s=$(LC_ALL=C grep -c "^$_a," "$STATE_DIR_HOST/bets.csv")
		[ "$_s" -gt 0 ] && [ "$_s" -lt "$_n" ] &&
		    ! grep -qx "$_a" "$STATE_DIR_HOST/agencies_closed.txt" \
		    2>/dev/null && echo "$_a"
	done <"$DATA_DIR/expected.txt"
}

# dl_kill_mid_upload VICTIM: SIGKILL the replica VICTIM with the others
# paused, and print how many agencies that caught mid-upload: nothing is
# stored from the pause until the unpause, so the count is exact, not a
# look taken while the upload runs on.
dl_kill_mid_upload() {
	_others=$(dl_running_server_ids | grep -v "^$1")
	# shellcheck disable=SC2086
	[ -z "$_others" ] || docker pause $_others >/dev/null
	docker kill "$1" >/dev/null
	dl_mid_upload_now | wc -l
	# shellcheck disable=SC2086
	[ -z "$_others" ] || docker unpause $_others >/dev/null
}

# Copies every container's log of the project into directory $1.
dl_save_logs() {
	mkdir -p "$1"
	for _dl_id in $(dl_ps -a -q); do
		docker logs "$_dl_id" >"$1/$(dl_name "$_dl_id").log" 2>&1
	done
	cp "$DATA_DIR/expected.txt" "$1/" 2>/dev/null
	wc -l "$STATE_DIR_HOST/bets.csv" >"$1/bets.count" 2>/dev/null
	cp "$STATE_DIR_HOST/agencies_closed.txt" "$1/" 2>/dev/null
	return 0
}
