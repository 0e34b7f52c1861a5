# lib.sh: shell helpers shared by host_test.sh and bench.sh.  Starting the
# real server and client on loopback with throw-away configs, waiting for
# them with a deadline, speaking the wire protocol through lotteryctl, and
# killing every process a test started when it ends, however it ends.
# Source it with BIN set; it needs bash and coreutils, plus util-linux's
# prlimit in the tests that lower a limit.

BIN=$(cd "${BIN:-build/bin}" 2>/dev/null && pwd) || {
	echo "lib.sh: no binary directory ${BIN:-build/bin}" >&2
	exit 1
}
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# ThreadSanitizer (a build-tsan/ binary): the first report ends the
# process, and a lock-order report names where both locks were taken.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

PIDS=()			# every process started, killed by lib_cleanup
MOUNTS=()		# every FUSE mount made, unmounted by lib_cleanup
LIB_PORT=$((20000 + RANDOM % 20000))

lib_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	PIDS=()
	# The filesystem daemons died with the rest; drop their mounts.
	for p in "${MOUNTS[@]}"; do
		fusermount3 -u -z "$p" 2>/dev/null || umount -l "$p" 2>/dev/null
	done
	MOUNTS=()
}

# tool NAME: the path of a test tool, from $BIN or else from build/bin (so
# the tools of this tree also serve other binaries); 1 when there is none.
tool() {
	local t
	for t in "$BIN/$1" build/bin/"$1"; do
		[ -x "$t" ] && { echo "$t"; return 0; }
	done
	return 1
}

# faultfs_mount BACKING MOUNTPOINT CTL LOG [OPTION...]: mount faultfs over
# BACKING at MOUNTPOINT, its faults read from CTL (created empty: nothing
# armed), its messages in LOG, the OPTIONs (-o powercut=DIR) passed on.
# 1 when it is not mounted within 5 seconds.
faultfs_mount() {
	local ffs mnt pid i
	ffs=$(tool faultfs) || return 1
	mkdir -p "$1" "$2" || return 1
	: >"$3"
	mnt=$(cd "$2" && pwd -P)
	"$ffs" "$1" "$mnt" -o "ctl=$3" "${@:5}" -f >>"$4" 2>&1 &
	pid=$!
	PIDS+=($pid)
	MOUNTS+=("$mnt")
	for ((i = 0; i < 50; i++)); do
		grep -qs " $mnt fuse.faultfs " /proc/mounts && return 0
		kill -0 $pid 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# faultfs_arm CTL [LINE...]: make LINEs the armed faults; none disarms.
# Written aside and renamed, so faultfs never reads half a file.
faultfs_arm() {
	local ctl=$1
	shift
	printf '%s\n' "$@" >"$ctl.new" && mv -f "$ctl.new" "$ctl"
}

# faultfs_held LOG OP [N]: wait until LOG shows N calls of OP (default 1)
# held by a "hold" rule, and print the pid of the process the last of
# them belongs to.  The held call stays in the filesystem until the rules
# change (faultfs_arm), so whatever the test checks next sees that process
# stopped at that call.  1 when it does not happen within 60 seconds.
faultfs_held() {
	local log=$1 op=$2 n=${3:-1} i line
	for ((i = 0; i < 600; i++)); do
		if [ "$(grep -c "^faultfs: $op [^ ]*: held " "$log")" -ge "$n" ]
		then
			line=$(grep "^faultfs: $op [^ ]*: held " "$log" | tail -n 1)
			line=${line##*pid }
			echo "${line%)}"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# port_used PORT: 0 when some TCP socket of this host has PORT as its own
# or its peer's port, in any state.
port_used() {
	local hex
	hex=$(printf %04X "$1")
	grep -qs ":$hex " /proc/net/tcp /proc/net/tcp6
}

# free_port: print a loopback TCP port no socket uses.
free_port() {
	local i
	for ((i = 0; i < 200; i++)); do
		LIB_PORT=$((LIB_PORT + 1))
		[ $LIB_PORT -gt 60000 ] && LIB_PORT=20000
		if ! port_used $LIB_PORT; then
			echo $LIB_PORT
			return 0
		fi
	done
	return 1
}

# server_conf FILE PORT STATE_DIR AGENCIES: write a config.ini.
server_conf() {
	cat >"$1" <<-EOF
	[DEFAULT]
	SERVER_IP = 127.0.0.1
	SERVER_PORT = $2
	SERVER_LISTEN_BACKLOG = 128
	AGENCIES_AMOUNT = $4
	LOGGING_LEVEL = INFO
	STATE_DIR = $3
	MAX_CONNECTIONS = 64
	CONN_TIMEOUT = 10s
	METRICS_PORT = 0
	EOF
}

# scrape PORT: print a replica's /metrics (METRICS_PORT=PORT); fails when
# the page cannot be had.
scrape() {
	curl -sSf --max-time 10 "http://127.0.0.1:$1/metrics"
}

# wait_http URL: 0 once URL answers 200, 1 after 10 seconds without.
wait_http() {
	local i
	for ((i = 0; i < 100; i++)); do
		curl -sf --max-time 2 -o /dev/null "$1" && return 0
		sleep 0.1
	done
	return 1
}

# metric FILE NAME [LABELS]: the sum of every sample of NAME in the
# scraped text FILE whose labels contain LABELS (e.g. agency="3").
metric() {
	awk -v n="$2" -v l="${3:-}" '
	    /^#/ { next }
	    { name = $1; sub(/\{.*/, "", name) }
	    name == n && index($1, l) { s += $2 }
	    END { printf "%d\n", s }' "$1"
}

# start_server NAME PORT STATE_DIR AGENCIES [VAR=value...]: start a replica
# in the background with its log in $TD/NAME.log; sets SPID[NAME].  Extra
# arguments are environment overrides; a SERVER_IP=... among them makes it
# listen, and be probed, on that loopback address.  Returns 1 when it does
# not answer an Echo (or, PROTOCOL=base, a WinnersRequest) within 10 seconds.
declare -A SPID
start_server() {
	local name=$1 port=$2 state=$3 agencies=$4 i
	shift 4
	local REQ_HOST=${REQ_HOST:-127.0.0.1} v
	for v in "$@"; do
		[ "${v#SERVER_IP=}" != "$v" ] && REQ_HOST=${v#SERVER_IP=}
	done
	mkdir -p "$state"
	server_conf "$TD/$name.ini" "$port" "$state" "$agencies"
	env "$@" "$BIN/server" -c "$TD/$name.ini" >>"$TD/$name.log" 2>&1 &
	SPID[$name]=$!
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		kill -0 "${SPID[$name]}" 2>/dev/null || return 1
		[ "$(req "$port" "Echo:up" 2>/dev/null)" = "Echo:up" ] && return 0
		# A PROTOCOL=base replica drops Echo: ask what it serves.
		case $(req "$port" WinnersRequest:1 2>/dev/null) in
		NotReadyResponse: | WinnersResponse:*) return 0 ;;
		esac
		sleep 0.1
	done
	return 1
}

# client_conf FILE ID ADDR DATADIR: write a config.yaml.
client_conf() {
	cat >"$1" <<-EOF
	id: $2
	server:
	  address: "$3"
	batch:
	  maxAmount: 100
	retry_sleep: 50ms
	retry_sleep_max: 500ms
	timeout: 10s
	log:
	  level: INFO
	data:
	  dir: $4
	EOF
}

# start_client ID PORT DATADIR [VAR=value...]: start the client of agency
# ID against ${CLIENT_HOST:-127.0.0.1}:PORT, log in $TD/client-ID.log; sets
# CPID[ID].  With CLIENT_HOSTS naming a hosts file, the client runs in its
# own mount namespace with that file bind-mounted on /etc/hosts, so a test
# can give a name several addresses.
declare -A CPID
start_client() {
	local id=$1 port=$2 data=$3
	shift 3
	client_conf "$TD/client-$id.yaml" "$id" "${CLIENT_HOST:-127.0.0.1}:$port" \
	    "$data"
	if [ -n "${CLIENT_HOSTS:-}" ]; then
		# unshare execs the shell, which execs the client: one pid.
		env "$@" unshare --mount sh -c \
		    'mount --bind "$1" /etc/hosts && exec "$2" -c "$3"' \
		    sh "$CLIENT_HOSTS" "$BIN/client" "$TD/client-$id.yaml" \
		    >>"$TD/client-$id.log" 2>&1 &
	else
		env "$@" "$BIN/client" -c "$TD/client-$id.yaml" \
		    >>"$TD/client-$id.log" 2>&1 &
	fi
	CPID[$id]=$!
	PIDS+=($!)
}

# wait_pid PID SECONDS: wait for a child; its exit status, or 124 after
# killing it when the deadline passes.
wait_pid() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# ---- the wire protocol, through scripts/lotteryctl.c ----

# ctl ARG...: lotteryctl (from $BIN, else build/bin) with its messages
# dropped: the helpers below print replies and "<closed>", as the tests
# expect, and return its exit status.
ctl() {
	local t
	t=$(tool lotteryctl) || { echo "lib.sh: no lotteryctl" >&2; return 2; }
	"$t" "$@" 2>/dev/null
}

# req PORT PAYLOAD...: send each payload on one connection to REQ_HOST
# (default 127.0.0.1), print each reply on its own line, "<closed>" when
# the server hung up instead.
req() {
	local port=$1
	shift
	ctl -a "${REQ_HOST:-127.0.0.1}:$port" send "$@"
}

# req_from SRC PORT PAYLOAD...: req from source address SRC (another
# loopback address, 127.0.0.2...).
req_from() {
	local src=$1 port=$2
	shift 2
	ctl -b "$src" -a "127.0.0.1:$port" send "$@"
}

# req_pipe PORT N PAYLOAD...: send every payload on one connection before
# reading anything, then print the first N replies, one a line.
req_pipe() {
	local port=$1
	shift
	ctl -a "127.0.0.1:$port" pipe "$@"
}

# send_queue PORT: bytes queued unsent (tx_queue) on the established
# sockets whose local port is PORT, the largest of them; 0 when none.
send_queue() {
	local port _ local_addr st q max=0
	port=$(printf %04X "$1")
	while read -r _ local_addr _ st q _; do
		[ "${local_addr##*:}" = "$port" ] && [ "$st" = 01 ] || continue
		q=$((16#${q%%:*}))
		[ $q -gt $max ] && max=$q
	done </proc/net/tcp
	echo $max
}

# cpu_ticks PID: utime+stime of a live process in clock ticks.  The command
# name in field 2 may hold spaces, so count fields after its ')'.
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat") || return 1
	s=${s##*) }
	set -- $s
	echo $((${12} + ${13}))
}

# send_only PORT PAYLOAD...: send the frames and hang up without reading.
send_only() {
	local port=$1
	shift
	ctl -a "${REQ_HOST:-127.0.0.1}:$port" post "$@"
}

# raw_req PORT BYTES: send BYTES (\xHH, \\ and \n escapes) as they are,
# then print the reply payload or "<closed>".
raw_req() {
	ctl -a "${REQ_HOST:-127.0.0.1}:$1" raw "$2"
}

# ctl_bg ARG...: lotteryctl in the background, its output dropped; $! is
# the tool itself (so a kill reaches it), also added to PIDS.
ctl_bg() {
	local t
	t=$(tool lotteryctl) || { echo "lib.sh: no lotteryctl" >&2; return 2; }
	"$t" "$@" >/dev/null 2>&1 &
	PIDS+=($!)
}

# hold PORT SECONDS [COUNT]: COUNT idle connections (default 1) to
# 127.0.0.1:PORT for SECONDS, in the background (ctl_bg).
hold() {
	ctl_bg -a "127.0.0.1:$1" hold "$2" "${3:-1}"
}

# hold_served PORT N [SECONDS]: N connections to 127.0.0.1:PORT, each
# sending one Echo and, SECONDS later (default 30), another; returns once
# every one has its first reply, so the replica has accepted each of them
# and counts it.  Their pids go in HOLDERS (and PIDS), their replies in
# $TD/holder-I.out.  1 when some reply does not come within 30 seconds.
hold_served() {
	local port=$1 n=$2 w=${3:-30} t i j
	t=$(tool lotteryctl) || { echo "lib.sh: no lotteryctl" >&2; return 2; }
	HOLDERS=()
	for ((i = 1; i <= n; i++)); do
		"$t" -t $((w + 30)) -w "$w" -a "127.0.0.1:$port" send \
		    "Echo:held-$i" "Echo:again-$i" >"$TD/holder-$i.out" 2>/dev/null &
		PIDS+=($!)
		HOLDERS+=($!)
	done
	for ((i = 1; i <= n; i++)); do
		for ((j = 0; j < 300; j++)); do
			grep -qx "Echo:held-$i" "$TD/holder-$i.out" && break
			sleep 0.1
		done
		[ $j -lt 300 ] || return 1
	done
}

# echo_until PORT TEXT SECONDS: 0 once an Echo of TEXT to 127.0.0.1:PORT
# comes back, trying again every 0.1 s; 1 when none did in time.
echo_until() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(req "$1" "Echo:$2")" = "Echo:$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# csv_check FILE: every line ends in CRLF and has 6 fields (the data the
# tests generate has no quoted fields).  Prints the first bad line number.
csv_check() {
	LC_ALL=C awk -F, '!/\r$/ || NF != 6 { print NR; exit 1 }' "$1"
}

# tsan_logs DIR: from now on, the ThreadSanitizer reports of every
# process this shell starts go to DIR/tsan.PID, whatever becomes of its
# stderr (lotteryctl's is dropped, faultfs's goes to its log).
tsan_logs() {
	export TSAN_OPTIONS="$TSAN_OPTIONS:log_path=$1/tsan"
}

# sanitizer_reports DIR: 0 when some log in DIR holds an ASan, UBSan or
# TSan report (a data race, a lock-order inversion, a mutex misused, a
# signal handler's fault), or a tsan_logs file exists; prints their names.
sanitizer_reports() {
	local found

	found=$({
		ls -d "$1"/tsan.*
		grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer|(WARNING|FATAL): ThreadSanitizer' \
		    "$1"/*.log
	} 2>/dev/null)
	[ -n "$found" ] && echo "$found"
}
