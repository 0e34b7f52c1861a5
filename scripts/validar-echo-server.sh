#!/bin/sh
# Checks that the server answers on the cluster network: a throwaway
# container of the server image joins the Compose project's network and
# sends one Echo frame to $SERVER_NAME:$SERVER_PORT with busybox printf and
# nc; the server must send the same frame back.  No port is published.
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
	echo "no network of Compose project $COMPOSE_PROJECT_NAME: is the cluster up?" >&2
	result fail
fi
len=$(printf %s "$payload" | wc -c)
if [ "$len" -gt 8190 ]; then
	echo "text too long for one frame" >&2
	result fail
fi
# The 2-byte big-endian length as two octal escapes for printf.
prefix=$(printf '\\%03o\\%03o' $((len / 256)) $((len % 256)))

# The payload travels in the environment, so no quoting can mangle it.
# The answer must be the very frame sent; NUL bytes are dropped from both
# sides before comparing because shell strings cannot hold them (and
# busybox grep -F stops reading a line at a NUL).
docker run --rm --network "$net" --entrypoint sh \
    -e "P=$payload" -e "H=$prefix" -e "HOST=$SERVER_NAME" -e "PORT=$SERVER_PORT" \
    "$SERVER_IMAGE" -c \
    'want=$(printf "$H%s" "$P" | tr -d "\000")
    got=$(printf "$H%s" "$P" | timeout 5 nc "$HOST" "$PORT" | tr -d "\000")
    [ "$got" = "$want" ]' \
    </dev/null >/dev/null 2>&1
if [ $? -eq 0 ]; then
	result success
fi
result fail
