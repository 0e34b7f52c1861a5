#!/bin/bash
# The Docker stage of `make test`: builds the images, then on a cluster of
# 5 agencies and 3 replicas runs the integration test, the echo check
# against live and stopped servers, a replica killed during the upload,
# name resolution from the client image, a graceful stop of every
# container, and one replica serving 100 agencies with the shipped
# settings.  One line per check, `PASS name` or `FAIL name`, then
# `docker: N passed, M failed`.  Exits 77 (skipped) when Docker does not
# answer.  The cluster is left down.
set -u
. "$(dirname "$0")/docker-lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "docker does not answer: Docker stage skipped"
	exit 77
fi
if [ -z "$DL_COMPOSE" ]; then
	echo "no docker compose nor docker-compose: Docker stage skipped"
	exit 77
fi

CLIENTS=5
SERVERS=3
CLUSTER=compose
dl_load_env
dl_lock
TIMEOUT=${RUN_TIMEOUT:-300}
cleanup() {
	dl_compose down --remove-orphans -v >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fresh_cluster() {
	cleanup
	dl_clean_state
	dl_compose up -d "$@" >/dev/null 2>&1
}

# Names of the agency containers now running.
running_clients() {
	for _c in $(dl_client_names); do
		[ "$(docker inspect -f '{{.State.Running}}' "$_c" 2>/dev/null)" = true ] &&
		    echo "$_c"
	done
}

echo "docker: using '$DL_COMPOSE'"
KEYS_ABS=$(cd "$DL_ROOT" && mkdir -p "$KEYS_DIR" && cd "$KEYS_DIR" && pwd)

# Images, and their sizes.
if make -s docker-image >/dev/null; then
	pass images
else
	fail images
	tally docker
	exit 1
fi
# The client is linked whole (2.6 MB); the server image carries the
# shared objects of libmicrohttpd (GnuTLS) and the monitor's libcurl,
# which Debian ships no archives of (docs/docker.md): about 22 MB.
image_size() {
	local img=$1 mb=$2 size
	size=$(docker image inspect -f '{{.Size}}' "$img")
	echo "image $img: $size bytes"
	check "image-size $img < $mb MB" [ "$size" -lt $((mb * 1000000)) ]
}
image_size "$SERVER_IMAGE" 32
image_size "$CLIENT_IMAGE" 10

# The generator's files for several sizes pass Compose's own validation.
ok=true
tmpd=$(mktemp -d)
for n in 0 1 5 100; do
	scripts/generar-compose.sh "$tmpd/c$n.yaml" "$n" 3 &&
	    $DL_COMPOSE -f "$tmpd/c$n.yaml" config -q || ok=false
done
rm -rf "$tmpd"
check "compose-config 0 1 5 100 clients" $ok

# Bad arguments: a usage message and a non-zero exit, no file written.
ok=true
tmpd=$(mktemp -d)
for args in "" "$tmpd/a.yaml" "$tmpd/b.yaml -1" "$tmpd/c.yaml abc" \
    "$tmpd/d.yaml 5 x" "$tmpd/e.yaml 5 -2" "/nonexistent/dir/f.yaml 5"; do
	# shellcheck disable=SC2086
	if scripts/generar-compose.sh $args >/dev/null 2>"$tmpd/err"; then
		echo "generar-compose.sh accepted '$args'"
		ok=false
	elif ! grep -qi usage "$tmpd/err" && ! grep -q . "$tmpd/err"; then
		echo "generar-compose.sh '$args': no message"
		ok=false
	fi
done
[ -z "$(ls "$tmpd"/*.yaml 2>/dev/null)" ] || ok=false
rm -rf "$tmpd"
check "compose-args rejected" $ok

# AUTH=on: the replicas mount the whole key file, each agency only its
# own key; the keys are private and survive a regeneration.  AUTH=off:
# no key anywhere.
ok=true
tmpd=$(mktemp -d)
scripts/generar-compose.sh "$tmpd/on.yaml" 3 2 2>/dev/null || ok=false
AUTH=off scripts/generar-compose.sh "$tmpd/off.yaml" 3 2 || ok=false
k2=$(cat "$KEYS_DIR/agency-2.key" 2>/dev/null)
scripts/generar-compose.sh "$tmpd/on.yaml" 3 2 2>/dev/null || ok=false
[ -n "$k2" ] && [ "$k2" = "$(cat "$KEYS_DIR/agency-2.key")" ] ||
    { echo "agency 2's key changed on regeneration"; ok=false; }
k7=$(cat "$KEYS_DIR/agency-7.key" 2>/dev/null)
scripts/generar-compose.sh "$tmpd/more.yaml" 8 2 2>/dev/null || ok=false
[ "$k2" = "$(cat "$KEYS_DIR/agency-2.key")" ] && [ -s "$KEYS_DIR/agency-8.key" ] &&
    { [ -z "$k7" ] || [ "$k7" = "$(cat "$KEYS_DIR/agency-7.key")" ]; } &&
    [ "$(grep -c . "$KEYS_DIR/agencies.keys")" -eq 8 ] ||
    { echo "more agencies changed old keys or made no new ones"; ok=false; }
[ "$(stat -c %a "$KEYS_DIR/agencies.keys" "$KEYS_DIR/agency-2.key" | sort -u)" = 600 ] ||
    { echo "key files are not 0600"; ok=false; }
# The key lines of one service's block of the file.
block_keys() {
	awk -v s="  $2:" '$0 == s { on = 1; next } /^  [a-z]/ { on = 0 }
	    on && /key/' "$1" | tr '\n' ' ' | tr -s ' '
}
got=$(block_keys "$tmpd/on.yaml" client2)
[ "$got" = " CLI_KEY_FILE: /keys/agency.key - $KEYS_ABS/agency-2.key:/keys/agency.key:ro " ] ||
    { echo "client2's key lines: '$got'"; ok=false; }
got=$(block_keys "$tmpd/on.yaml" server)
[ "$got" = " AGENCY_KEYS: /keys/agencies.keys - $KEYS_ABS/agencies.keys:/keys/agencies.keys:ro " ] ||
    { echo "server's key lines: '$got'"; ok=false; }
! grep -q key "$tmpd/off.yaml" || { echo "AUTH=off file names keys"; ok=false; }
$DL_COMPOSE -f "$tmpd/on.yaml" config -q || ok=false
rm -rf "$tmpd"
check "compose-auth keys per service" $ok

dl_prepare >/dev/null
check "integration 3 runs" scripts/integration_test.sh 3

# Echo against live replicas, then against stopped ones.
fresh_cluster
dl_wait_clients "$TIMEOUT"
check "echo-server live" scripts/validar-echo-server.sh
dl_compose stop server >/dev/null 2>&1
out=$(scripts/validar-echo-server.sh)
rc=$?
echo "$out"
ok=false
[ $rc -eq 1 ] && [ "$out" = "action: test_echo_server | result: fail" ] && ok=true
check "echo-server stopped" $ok

# The kill tests want the agencies still uploading when a replica dies:
# at full speed the whole run takes under a second, so they run on a copy
# of the cluster file whose agencies send small batches one at a time.
FAST_FILE=$COMPOSE_FILE_OUT
SLOW_FILE=$FAST_FILE.slow
slow_uploads() {
	sed 's|^\( *\)CLI_DATA_DIR: /data$|&\n\1CLI_BATCH_MAXAMOUNT: "10"\n\1CLI_BATCH_WINDOW: "1"|' \
	    "$FAST_FILE" >"$SLOW_FILE"
	[ "$(grep -c 'CLI_BATCH_WINDOW: "1"' "$SLOW_FILE")" -eq "$CLIENTS" ] ||
	    dl_die "cannot slow the agencies down in $SLOW_FILE"
	COMPOSE_FILE_OUT=$SLOW_FILE
}

# kill_in_upload: a fresh cluster whose first replica is killed (with the
# others paused) once bets are stored; sets victim and busy, the agencies
# it caught mid-upload.  A loaded machine may be slower at the kill than
# the agencies at their upload, so when the count shows the kill came
# after every upload ended, the run is made again (KILL_TRIES, 5, runs):
# each count is exact, and the check needs one kill that landed.
# Returns 1 when no bet was stored in time.
kill_in_upload() {
	local try
	busy=0
	for ((try = 1; try <= ${KILL_TRIES:-5}; try++)); do
		fresh_cluster
		wait_lines "$STATE_DIR_HOST/bets.csv" 1 "$TIMEOUT" || return 1
		victim=$(dl_running_server_ids | head -n 1)
		busy=$(dl_kill_mid_upload "$victim")
		[ "$busy" -eq 0 ] || break
		echo "kill $try came after every upload ended: again"
	done
	return 0
}

# A replica killed (SIGKILL) while the agencies upload: the results must
# still be exact.
slow_uploads
if kill_in_upload; then
	echo "killed $(dl_name "$victim") with $busy agencies mid-upload"
	ok=true
	for id in $(dl_service_ids server); do
		docker logs "$id" 2>&1 | grep -q 'action: auth | result: success | modo: on' ||
		    ok=false
	done
	check "auth on by default" $ok
	why="no agency was uploading when the replica died"
	if [ "$busy" -gt 0 ] && dl_wait_clients "$TIMEOUT" &&
	    why=$(dl_check_run); then
		pass "replica-kill"
	else
		fail "replica-kill: $(echo "$why" | tr '\n' ';')"
		dl_save_logs integration-logs/replica-kill
	fi
else
	fail "replica-kill: no bet stored in ${TIMEOUT}s"
fi

# A replica killed mid-run and started again rejoins: the run is still
# exact and the restarted replica serves (the echo goes to every replica
# in turn through the alias, so all must answer).
if kill_in_upload; then
	docker start "$victim" >/dev/null
	echo "restarted $(dl_name "$victim") with $busy agencies mid-upload"
	ok=true
	[ "$busy" -gt 0 ] || { echo "no agency was uploading any more"; ok=false; }
	if ! dl_wait_clients "$TIMEOUT" || ! why=$(dl_check_run); then
		ok=false
		echo "$why"
	fi
	[ "$(docker inspect -f '{{.State.Running}}' "$victim")" = true ] ||
	    ok=false
	for _ in 1 2 3 4 5 6; do
		scripts/validar-echo-server.sh >/dev/null || ok=false
	done
	check "replica-restart" $ok
	$ok || dl_save_logs integration-logs/replica-restart
else
	fail "replica-restart: no bet stored in ${TIMEOUT}s"
fi
COMPOSE_FILE_OUT=$FAST_FILE
rm -f "$SLOW_FILE"

# Agencies 1..N-1 only: they upload, close and keep polling for winners,
# since the draw waits for agency N.  So every container is running.
last=$CLIENTS
others=$(dl_client_names $((last - 1)))
# shellcheck disable=SC2086
fresh_cluster server $others
if ! wait_lines "$STATE_DIR_HOST/agencies_closed.txt" $((last - 1)) \
    "$TIMEOUT"; then
	fail "agencies closed: $(lines "$STATE_DIR_HOST/agencies_closed.txt") of $((last - 1))"
fi

# Another container on the network forges agency N's close: refused and
# logged, nothing recorded (agency N stays open: the single bet below).
docker run --rm --network "$(dl_network)" --entrypoint /lotteryctl \
    "$SERVER_IMAGE" -t 3 -a "$SERVER_NAME:$SERVER_PORT" post "AgencyClose:$last"
# The close gets no reply: wait for its refusal in some replica's log.
refused=0
for _ in $(seq 300); do
	for id in $(dl_running_server_ids); do
		docker logs "$id" 2>&1 | grep -q "tipo: AgencyClose | agencia: $last | motivo: not authenticated" &&
		    refused=1
	done
	[ $refused -eq 1 ] && break
	sleep 0.1
done
ok=false
[ $refused -eq 1 ] && [ "$(lines "$STATE_DIR_HOST/agencies_closed.txt")" -eq $((last - 1)) ] &&
    ok=true
check "forged close from another container refused" $ok

# The client binary resolves the alias through glibc and nsswitch.conf:
# one bet for agency N, which is still open, authenticated with its key.
out=$(docker run --rm --network "$(dl_network)" --user "$(id -u):$(id -g)" \
    -v "$DL_ROOT/client/config.yaml:/config.yaml:ro" \
    -v "$KEYS_ABS/agency-$last.key:/keys/agency.key:ro" \
    -e CLI_KEY_FILE=/keys/agency.key \
    -e CLI_ID="$last" -e CLI_SERVER_ADDRESS="$SERVER_NAME:$SERVER_PORT" \
    -e NOMBRE=Ana -e APELLIDO=Prueba -e DOCUMENTO=99999999 \
    -e NACIMIENTO=1990-01-01 -e NUMERO=1 "$CLIENT_IMAGE" 2>&1)
rc=$?
echo "$out" | grep 'apuesta_enviada'
ok=false
[ $rc -eq 0 ] && echo "$out" | grep -q 'action: apuesta_enviada | result: success' &&
    ok=true
check "client-image resolves $SERVER_NAME" $ok

# docker stop -t 10 on each container: a shutdown log line, and exit 0
# (a replica) or 3 (an agency stopped before it was done).
for id in $(running_clients) $(dl_running_server_ids); do
	name=$(dl_name "$id")
	want=0
	case $name in *client*) want=3 ;; esac
	t0=$(date +%s)
	docker stop -t 10 "$id" >/dev/null
	rc=$(docker inspect -f '{{.State.ExitCode}}' "$id")
	secs=$(($(date +%s) - t0))
	if [ "$rc" = $want ] && docker logs "$id" 2>&1 | grep -q 'action: shutdown'; then
		pass "graceful-stop $name (${secs}s)"
	else
		fail "graceful-stop $name: exit $rc (want $want) after ${secs}s"
	fi
done

# AUTH=off: the replicas warn that agencies are not authenticated and a
# client of the base protocol stores its bet.
AUTH=off dl_prepare >/dev/null
fresh_cluster server
ok=false
for _ in $(seq 30); do
	scripts/validar-echo-server.sh >/dev/null && break
	sleep 1
done
out=$(docker run --rm --network "$(dl_network)" \
    -v "$DL_ROOT/client/config.yaml:/config.yaml:ro" \
    -e CLI_ID=1 -e CLI_SERVER_ADDRESS="$SERVER_NAME:$SERVER_PORT" \
    -e CLI_PROTOCOL=base \
    -e NOMBRE=Ana -e APELLIDO=Prueba -e DOCUMENTO=99999998 \
    -e NACIMIENTO=1990-01-01 -e NUMERO=1 "$CLIENT_IMAGE" 2>&1)
rc=$?
id=$(dl_running_server_ids | head -n 1)
[ $rc -eq 0 ] && echo "$out" | grep -q 'action: apuesta_enviada | result: success' &&
    docker logs "$id" 2>&1 | grep -q 'action: auth | result: success | modo: off' &&
    ok=true
check "AUTH=off serves a base-protocol client" $ok
dl_prepare >/dev/null

# Changing the agency count: make docker-compose-up with another CLIENTS
# makes new data and starts a new lottery (cluster.meta cleared with the
# state).  A state directory a lottery of another count left (here by a
# replica of a 2-agency cluster) is refused before anything starts, in
# one line that names make new-lottery, which clears it.
lottery_run() {
	local why
	make -s docker-compose-up SERVERS=1 CLIENTS="$1" >"$lotd/up.log" 2>&1 ||
	    { echo "up with $1 agencies: $(tail -n 1 "$lotd/up.log")"; return 1; }
	CLIENTS=$1 dl_wait_clients "$TIMEOUT" ||
	    { echo "$1 agencies still running after ${TIMEOUT}s"; return 1; }
	why=$(CLIENTS=$1 dl_check_run) || { echo "$1 agencies: $why"; return 1; }
}
lotd=$(mktemp -d)
cp .cluster.env "$lotd/cluster.env" 2>/dev/null
ok=true
lottery_run 2 && lottery_run 3 || ok=false
check "new agency count, new lottery" $ok
ok=true
make -s new-lottery >/dev/null || ok=false
[ -z "$(dl_ps -a -q)" ] && [ ! -e "$STATE_DIR_HOST/cluster.meta" ] ||
    { echo "new-lottery left containers or cluster.meta"; ok=false; }
CLIENTS=2 SERVERS=1 scripts/generar-compose.sh "$lotd/two.yaml" 2 1 2>/dev/null &&
    $DL_COMPOSE -p "$COMPOSE_PROJECT_NAME" -f "$lotd/two.yaml" up -d server \
    >/dev/null 2>&1 && wait_lines "$STATE_DIR_HOST/cluster.meta" 1 "$TIMEOUT" ||
    { echo "no 2-agency replica recorded cluster.meta"; ok=false; }
$DL_COMPOSE -p "$COMPOSE_PROJECT_NAME" -f "$lotd/two.yaml" down -v >/dev/null 2>&1
if make -s docker-compose-up SERVERS=1 CLIENTS=3 >"$lotd/out" 2>"$lotd/err"; then
	echo "a state of 2 agencies was started with 3"
	ok=false
fi
cat "$lotd/err"
grep '^docker-cluster.sh:' "$lotd/err" >"$lotd/why"
[ "$(grep -c . "$lotd/why")" -eq 1 ] && grep -q 'make new-lottery' "$lotd/why" ||
    { echo "not one line naming make new-lottery"; ok=false; }
[ -z "$(dl_ps -a -q)" ] || { echo "containers started"; ok=false; }
check "other lottery's state refused before start" $ok
make -s new-lottery >/dev/null
check "new-lottery, then 3 agencies" lottery_run 3
if [ -f "$lotd/cluster.env" ]; then cp "$lotd/cluster.env" .cluster.env; else rm -f .cluster.env; fi
rm -rf "$lotd"

# One replica with the shipped settings serves 100 agencies: those that
# wait for the draw never keep those still uploading out.  Every agency
# exits 0 with its winners, bets.csv holds every row, one draw.
CLIENTS=100 SERVERS=1
dl_prepare >/dev/null
fresh_cluster
if dl_wait_clients "$TIMEOUT" && why=$(dl_check_run); then
	pass "one-replica-100-agencies"
else
	fail "one-replica-100-agencies: $(echo "${why:-timed out}" | tr '\n' ';')"
	dl_save_logs integration-logs/one-replica-100-agencies
fi
cleanup
CLIENTS=5 SERVERS=3
dl_prepare >/dev/null

# make docker-compose-down leaves neither containers nor networks.
make -s docker-compose-down >/dev/null 2>&1
dl_check_gone "compose-down"

cleanup
tally docker
