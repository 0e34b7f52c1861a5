#!/bin/bash
# The Compose v2 stage of `make test`: the cluster run through the
# `docker compose` plugin rather than the standalone docker-compose v1
# that Debian ships.  scripts/compose-v2.sh builds the plugin once from its
# Go module (kept in build/tools/cli-plugins/); DOCKER_CONFIG points the
# docker CLI at it.  Checks that v2 answers, that it accepts the generated
# files for 0, 1, 5 and 100 agencies, two whole runs of the integration
# test (3 replicas, 5 agencies) and the echo check, and that down leaves
# nothing.  Exits 77 (skipped) with the reason when Docker does not answer
# or the plugin cannot be built.
set -u
. "$(dirname "$0")/docker-lib.sh"

if ! docker info >/dev/null 2>&1; then
	echo "docker does not answer: Compose v2 stage skipped"
	exit 77
fi
if ! dir=$(scripts/compose-v2.sh); then
	echo "the docker compose v2 plugin cannot be built here: Compose v2 stage skipped"
	exit 77
fi
export DOCKER_CONFIG=$dir
export COMPOSE_CMD="docker compose"
DL_COMPOSE=$COMPOSE_CMD

CLIENTS=5
SERVERS=3
CLUSTER=compose
export CLUSTER
dl_load_env
dl_lock
tmpd=$(mktemp -d) || exit 1
cleanup() {
	dl_compose down --remove-orphans -v >/dev/null 2>&1
	rm -rf "$tmpd"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

v=$(docker compose version --short 2>/dev/null)
echo "compose v2: docker compose $v (DOCKER_CONFIG=$DOCKER_CONFIG)"
case $v in
2.* | v2.*) pass "docker compose v2 answers" ;;
*) fail "docker compose v2 answers: '$v'" ;;
esac

if ! make -s docker-image >/dev/null; then
	fail images
	tally compose_v2
	exit 1
fi

ok=true
for n in 0 1 5 100; do
	scripts/generar-compose.sh "$tmpd/c$n.yaml" "$n" 3 2>/dev/null &&
	    docker compose -f "$tmpd/c$n.yaml" config -q 2>/dev/null || ok=false
done
check "compose v2 config 0 1 5 100 clients" $ok

dl_prepare >/dev/null
check "integration through v2, 2 runs" scripts/integration_test.sh --compose 2

# The echo check against a running cluster, the replicas named as v2
# names them.
dl_clean_state
dl_compose up -d >/dev/null 2>&1
dl_wait_clients "${RUN_TIMEOUT:-300}"
check "echo-server through v2" scripts/validar-echo-server.sh
names=$(for id in $(dl_running_server_ids); do dl_name "$id"; done | sort | tr '\n' ' ')
echo "replicas: $names"
[ "$(echo "$names" | wc -w)" -eq "$SERVERS" ] && pass "v2 runs $SERVERS replicas" ||
    fail "v2 runs $SERVERS replicas: $names"

dl_compose down --remove-orphans -v >/dev/null 2>&1
dl_check_gone "compose v2 down"

cleanup
tally compose_v2
