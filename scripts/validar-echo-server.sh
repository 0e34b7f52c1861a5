#!/bin/bash
# Checks that the server answers on the cluster network: a throwaway
# container of the client image joins the network of the Compose project
# (or of the Swarm stack, with CLUSTER=stack or after make swarm-up) and
# runs lotteryctl there, which sends one Echo to $SERVER_NAME:$SERVER_PORT
# and succeeds only when the same text comes back.  No port is published.
#
# usage: scripts/validar-echo-server.sh [TEXT]
# Prints `action: test_echo_server | result: success|fail`; exits 0 or 1.
set -u
. "$(dirname "$0")/docker-lib.sh"
dl_load_env

text=${1:-validar-echo-$$}
payload="Echo:$text"

result() {
	echo "action: test_echo_server | result: $1"
	[ "$1" = success ]
	exit
}

net=$(dl_network)
if [ -z "$net" ]; then
	echo "no network of the $CLUSTER cluster ($(dl_label)): is it up?" >&2
	result fail
fi
len=$(printf %s "$payload" | wc -c)
if [ "$len" -gt 8190 ]; then
	echo "text too long for one frame" >&2
	result fail
fi
# The text is an argument of the tool itself (no shell in between), so no
# quoting can mangle it.
docker run --rm --network "$net" --entrypoint /lotteryctl "$CLIENT_IMAGE" \
    -a "$SERVER_NAME:$SERVER_PORT" echo "$text" </dev/null >/dev/null 2>&1
if [ $? -eq 0 ]; then
	result success
fi
result fail
