# gen-args.sh: the command line both cluster-file generators take
# (generar-compose.sh and generar-stack.sh), sourced by them with their
# arguments: "OUTPUT.yaml CLIENTS [SERVERS]".  Loads the settings through
# docker-lib.sh, checks the counts, the port, the alias and the output, and
# leaves out (absolute), nclients and nservers set.  gen_paths then sets
# what both files name alike: the data and keys directories, the user and
# the network, making the agencies' keys when AUTH=on.

usage() {
	echo "usage: $0 OUTPUT.yaml CLIENTS [SERVERS]" >&2
	echo "  CLIENTS, SERVERS: non-negative integers (SERVERS defaults to" >&2
	echo "  \$SERVERS from .env, else 3)" >&2
	exit 2
}

# Plain decimal without leading zeros, so the shell never reads octal.
is_count() {
	case $1 in
	0) return 0 ;;
	'' | 0* | *[!0-9]*) return 1 ;;
	esac
	[ ${#1} -le 5 ]
}

[ $# -eq 2 ] || [ $# -eq 3 ] || usage
out=$1
nclients=$2
nservers=${3-}
# The lib moves to the repository root: a relative output path is meant
# from where the caller stands.
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac
. "${BASH_SOURCE[0]%/*}/docker-lib.sh"
[ -z "$nservers" ] || SERVERS=$nservers
CLIENTS=$nclients
dl_load_env
nservers=$SERVERS

is_count "$nclients" || { echo "$0: CLIENTS must be a non-negative integer: '$nclients'" >&2; usage; }
is_count "$nservers" || { echo "$0: SERVERS must be a non-negative integer: '$nservers'" >&2; usage; }
is_count "$SERVER_PORT" && [ "$SERVER_PORT" -ge 1 ] && [ "$SERVER_PORT" -le 65535 ] ||
    dl_die "SERVER_PORT must be 1..65535: '$SERVER_PORT'"
is_count "$MONITOR_PORT" && [ "$MONITOR_PORT" -ge 1 ] && [ "$MONITOR_PORT" -le 65535 ] ||
    dl_die "MONITOR_PORT must be 1..65535: '$MONITOR_PORT'"
case $SERVER_NAME in
'' | *[!a-zA-Z0-9.-]*) dl_die "SERVER_NAME must be a host name: '$SERVER_NAME'" ;;
esac
outdir=$(dirname "$out")
[ -d "$outdir" ] && [ -w "$outdir" ] || dl_die "$outdir: not a writable directory"
[ ! -e "$out" ] || [ -w "$out" ] || dl_die "$out: not writable"

# gen_paths BASE: data, keys and state (the state directory on the host,
# STATE_DIR_HOST) as the file names them (relative paths under BASE),
# user and net.  With AUTH=on (the default) every agency gets
# a key, made on first use and kept; the replicas mount the whole key
# file, each agency its own.
gen_paths() {
	local base=$1
	under() {
		case ${1#./} in
		/*) echo "${1#./}" ;;
		*) echo "$base/${1#./}" ;;
		esac
	}
	data=$(under "$DATA_DIR")
	keys=$(under "$KEYS_DIR")
	state=$(under "$STATE_DIR_HOST")
	case $AUTH in
	on)
		if [ "$nclients" -gt 0 ]; then
			scripts/keys.sh ensure "$KEYS_DIR" "$nclients" >&2 ||
			    dl_die "cannot make the agency keys in $KEYS_DIR"
		fi
		;;
	off) ;;
	*) dl_die "AUTH must be on or off: '$AUTH'" ;;
	esac
	user="$(id -u):$(id -g)"
	net=lottery_net
}
