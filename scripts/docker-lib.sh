# Shared by the Docker scripts (sourced, not run): finding the repository,
# loading .env, choosing the Compose command, preparing the agency data and
# the compose file, and checking the outcome of one cluster run.  Every
# function is prefixed dl_.  It also brings in common.sh (line counts,
# waits, PASS/FAIL tallies), but not lib.sh: the Docker scripts need no
# host binaries started from build/bin.

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DL_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$DL_ROOT" || exit 1

# The v2 plugin when it answers, else the standalone v1 program.
if docker compose version >/dev/null 2>&1; then
	DL_COMPOSE="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
	DL_COMPOSE="docker-compose"
else
	DL_COMPOSE=""
fi

dl_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# Loads .env (or .env.example when .env is missing; dl_create_env makes
# the copy), then the counts the last `make docker-compose-up` used
# (.cluster.env), so the scripts work on the cluster that was brought up.
# CLIENTS, SERVERS and AUTH already set and non-empty in the environment
# win, so `make docker-compose-up CLIENTS=10` overrides .env.  `up` itself sets
# DL_FRESH to start from .env alone.
dl_load_env() {
	_dl_c=${CLIENTS-}
	_dl_s=${SERVERS-}
	_dl_a=${AUTH-}
	if [ -f .env ]; then
		. ./.env
	elif [ -f .env.example ]; then
		. ./.env.example
	fi
	if [ -z "${DL_FRESH-}" ] && [ -f .cluster.env ]; then
		. ./.cluster.env
	fi
	[ -n "$_dl_c" ] && CLIENTS=$_dl_c
	[ -n "$_dl_s" ] && SERVERS=$_dl_s
	[ -n "$_dl_a" ] && AUTH=$_dl_a
	CLIENTS=${CLIENTS:-5}
	SERVERS=${SERVERS:-3}
	SERVER_NAME=${SERVER_NAME:-server}
	SERVER_PORT=${SERVER_PORT:-12345}
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
	STATE_DIR_HOST=./shared-volume
	export CLIENTS SERVERS SERVER_NAME SERVER_PORT DOCKER_SUBNET \
	    COMPOSE_FILE_OUT COMPOSE_PROJECT_NAME SERVER_IMAGE CLIENT_IMAGE \
	    DATA_DIR GEN_BETS GEN_SEED GEN_WINNERS BIN_DIR AUTH KEYS_DIR
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
dl_compose() {
	[ -n "$DL_COMPOSE" ] || dl_die "neither 'docker compose' nor docker-compose found"
	$DL_COMPOSE -p "$COMPOSE_PROJECT_NAME" -f "$COMPOSE_FILE_OUT" "$@"
}

# dl_ps ARG...: docker ps over this Compose project's containers only.
dl_ps() {
	docker ps --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
	    "$@"
}

# dl_networks: ids of this Compose project's networks.
dl_networks() {
	docker network ls -q \
	    --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
}

# Ids of the project's containers of one service (running or not).
dl_service_ids() {
	dl_ps -a -q --filter "label=com.docker.compose.service=$1"
}

dl_running_server_ids() {
	dl_ps -q --filter "label=com.docker.compose.service=server"
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

# Removes the replicas' shared state.  A file left by another user id is
# removed from inside a throwaway container instead.
dl_clean_state() {
	mkdir -p "$STATE_DIR_HOST"
	rm -f "$STATE_DIR_HOST/bets.csv" "$STATE_DIR_HOST/agencies_closed.txt" \
	    2>/dev/null && return 0
	docker run --rm --entrypoint sh -v "$DL_ROOT/shared-volume:/s" \
	    "$SERVER_IMAGE" -c 'rm -f /s/bets.csv /s/agencies_closed.txt'
}

dl_prepare() {
	dl_prepare_data
	mkdir -p "$STATE_DIR_HOST"
	scripts/generar-compose.sh "$COMPOSE_FILE_OUT" "$CLIENTS" "$SERVERS" ||
	    dl_die "cannot generate $COMPOSE_FILE_OUT"
}

dl_require_images() {
	for _dl_i in "$SERVER_IMAGE" "$CLIENT_IMAGE"; do
		docker image inspect "$_dl_i" >/dev/null 2>&1 ||
		    dl_die "image $_dl_i missing: run make docker-image"
	done
}

# The agency containers' names, client1..client$1 (default: CLIENTS).
dl_client_names() {
	_dl_i=1
	while [ "$_dl_i" -le "${1:-$CLIENTS}" ]; do
		echo "client$_dl_i"
		_dl_i=$((_dl_i + 1))
	done
}

# Waits (up to $1 seconds) for client1..clientN to exit.
dl_wait_clients() {
	_dl_names=$(dl_client_names)
	[ -n "$_dl_names" ] || return 0
	# shellcheck disable=SC2086
	timeout "$1" docker wait $_dl_names >/dev/null
}

# Checks a finished run against $DATA_DIR/expected.txt.  Prints one
# reason per problem on stdout and returns non-zero when there was any.
dl_check_run() {
	_dl_bad=0
	_dl_total=0
	while read -r _dl_ag _dl_bets _dl_win _dl_docs; do
		_dl_total=$((_dl_total + _dl_bets))
		_dl_c=client$_dl_ag
		_dl_rc=$(docker inspect -f '{{.State.ExitCode}}' "$_dl_c" 2>/dev/null)
		if [ "$_dl_rc" != 0 ]; then
			echo "$_dl_c exited ${_dl_rc:-?}"
			_dl_bad=1
		fi
		_dl_k=$(docker logs "$_dl_c" 2>&1 |
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
