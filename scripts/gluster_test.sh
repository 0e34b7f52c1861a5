#!/bin/bash
# The GlusterFS stage of `make test`: three replicas (build/bin/server, as
# processes) each on its own FUSE mount of one GlusterFS volume, and five
# agencies, the way replicas on three hosts would share the state
# directory.  glusterd, the brick and the three mount clients run in a
# network namespace this test makes, on 10.77.0.1 of its loopback (Gluster
# refuses bricks on 127.0.0.1).  Checks:
#   - GLUSTER_RUNS (3) whole runs are exact: every agency exits 0 with the
#     winner count of expected.txt, bets.csv holds every bet once, one draw;
#   - a partition: mount 1's TCP connections to glusterd and the brick are
#     cut (iptables DROP inside the namespace) while its replica serves
#     uploads; that replica stops with a CRITICAL line and exit status 1,
#     never acknowledging what it could not store, and the other two
#     finish the run exactly.
# The volume and the mounts use the settings docs/operations.md requires
# (GLUSTER_PLAIN=1 leaves them out, to see the test fail without them).
# One line per check, then `gluster: N passed, M failed`.  Exits 77 with
# the reason when this machine cannot run it (not root, no network
# namespaces, no FUSE, Gluster not installable, another glusterd running).
set -u
cd "$(dirname "$0")/.." || exit 1

skip() {
	echo "GlusterFS stage skipped: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, FUSE mounts, glusterd)"
[ -x build/bin/server ] && [ -x build/bin/client ] && [ -x build/bin/gendata ] ||
    { echo "build/bin lacks server, client or gendata: run make build" >&2; exit 1; }
[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v ip >/dev/null && command -v iptables >/dev/null &&
    command -v nsenter >/dev/null || skip "needs ip, iptables and nsenter"
if ! command -v glusterd >/dev/null || ! command -v glusterfs >/dev/null; then
	echo "installing glusterfs-server and glusterfs-client"
	gl_pkgs() {
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
		    --no-install-recommends glusterfs-server glusterfs-client \
		    >/dev/null 2>&1
	}
	gl_pkgs || { apt-get update >/dev/null 2>&1 && gl_pkgs; } ||
	    skip "glusterfs-server and glusterfs-client cannot be installed"
fi
# The gluster CLI reaches glusterd only through /var/run/glusterd.socket:
# one glusterd per machine.
ps -C glusterd -o stat= 2>/dev/null | grep -qv '^Z' &&
    skip "a glusterd already runs on this machine"

BIN=build/bin
. scripts/lib.sh

NS=lottery-gl-$$
VOL=lotgl$$
HOST=10.77.0.1
RUNS=${GLUSTER_RUNS:-3}
BETS=${GLUSTER_BETS:-20000}
G=$(mktemp -d /tmp/lottery-gluster.XXXXXX) || exit 1
TD=$G/run
MNT=()
GLPID=()

cleanup() {
	local p
	lib_cleanup
	for p in "${GLPID[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	# glusterd's children (the brick) are in the namespace too.
	for p in $(ip netns pids "$NS" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${MNT[@]}"; do
		umount -l "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$G" "/var/run/gluster/vols/$VOL" \
	    "/var/log/glusterfs/bricks/$(echo "${G#/}/brick" | tr / -).log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# in_ns CMD...: CMD in the test's network namespace, in this mount
# namespace (a FUSE mount made there is seen here).
in_ns() {
	nsenter --net="/run/netns/$NS" "$@"
}

gl() {
	in_ns gluster --mode=script "$@"
}

mkdir -p "$TD" "$G/lib" "$G/log" "$G/brick" "$G/data" || exit 1
ip netns add "$NS" || skip "cannot create a network namespace"
ip -n "$NS" link set lo up && ip -n "$NS" addr add "$HOST/32" dev lo ||
    skip "cannot configure the namespace's loopback"

# glusterd keeps its state under $G, not /var/lib/glusterd.
sed "s|^\( *option working-directory\).*|\1 $G/lib|" /etc/glusterfs/glusterd.vol \
    >"$G/glusterd.vol" || exit 1
in_ns glusterd -f "$G/glusterd.vol" -l "$G/log/glusterd.log" -p "$G/glusterd.pid" ||
    skip "glusterd does not start"
for _ in $(seq 50); do
	gl volume list >/dev/null 2>&1 && break
	sleep 0.2
done
gl volume create "$VOL" "$HOST:$G/brick" force >/dev/null ||
    { echo "volume create failed" >&2; exit 1; }

# The settings docs/operations.md explains: nothing cached or deferred on
# the client side, and a lock holder cut off gets EBADFD instead of having
# its descriptor silently reopened without the lock.  The timeouts make a
# cut-off mount and its locks go within seconds, not the default 42.
opts="performance.write-behind=off performance.flush-behind=off
performance.stat-prefetch=off performance.quick-read=off
performance.open-behind=off client.strict-locks=on"
[ -n "${GLUSTER_PLAIN-}" ] && opts=
opts="$opts network.ping-timeout=5 server.tcp-user-timeout=5
server.keepalive-time=2 server.keepalive-interval=1 server.keepalive-count=3"
for o in $opts; do
	gl volume set "$VOL" "${o%%=*}" "${o#*=}" >/dev/null ||
	    { echo "volume set $o failed" >&2; exit 1; }
done
gl volume start "$VOL" >/dev/null || { echo "volume start failed" >&2; exit 1; }
mopts="--direct-io-mode=enable --attribute-timeout=0 --entry-timeout=0 --negative-timeout=0"
[ -n "${GLUSTER_PLAIN-}" ] && mopts=
echo "gluster: volume $VOL on $HOST in namespace $NS, $(glusterfs --version | head -n 1)"

# Three mounts; the client of each is a process of this script.
for m in 1 2 3; do
	mkdir -p "$G/m$m"
	# nsenter execs glusterfs: $! is the mount's client process.
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$NS" glusterfs -N --volfile-server="$HOST" --volfile-id="$VOL" $mopts \
	    -l "$G/log/m$m.log" "$G/m$m" &
	GLPID[$m]=$!
	disown $!
	MNT+=("$G/m$m")
done
for m in 1 2 3; do
	for _ in $(seq 50); do
		grep -qs " $G/m$m fuse.glusterfs " /proc/mounts && break
		sleep 0.2
	done
	grep -qs " $G/m$m fuse.glusterfs " /proc/mounts ||
	    { echo "mount $m failed" >&2; tail "$G/log/m$m.log" >&2; exit 1; }
done
echo "mounted $G/m1 $G/m2 $G/m3"
# OFD locks work through the mount the way the replicas use them.
if [ -x build/bin/lockcheck ]; then
	check "lockcheck on a mount" build/bin/lockcheck "$G/m1/lockcheck"
	rm -f "$G/m1/lockcheck"
fi

"$BIN/gendata" -o "$G/data" -a 5 -n "$BETS" -s 7 >/dev/null || exit 1
total=$(awk '{ s += $2 } END { print s }' "$G/data/expected.txt")

# The agencies reach the replicas by one name with three addresses.
{
	echo "127.0.0.1 localhost"
	echo "127.0.0.1 lottery-gluster"
	echo "127.0.0.2 lottery-gluster"
	echo "127.0.0.3 lottery-gluster"
} >"$TD/hosts"
PORT=$(free_port)

# start_cluster: the state files gone, a replica on each mount, the five
# agencies started.
# start_cluster [VAR=VALUE...]: the three replicas, then the five agencies
# with those settings.
start_cluster() {
	local m a
	rm -f "$G/m1/bets.csv" "$G/m1/agencies_closed.txt" "$G/m1/cluster.meta"
	rm -f "$TD"/*.log
	for m in 1 2 3; do
		start_server "r$m" "$PORT" "$G/m$m" 5 SERVER_IP=127.0.0.$m ||
		    { echo "replica $m did not start"; return 1; }
	done
	for a in 1 2 3 4 5; do
		CLIENT_HOST=lottery-gluster CLIENT_HOSTS=$TD/hosts \
		    start_client "$a" "$PORT" "$G/data" "$@"
	done
}

# check_run REPLICAS...: every agency exited 0 with its winners, bets.csv
# holds every bet once, one draw across the replicas named.  Prints the
# problems; 1 when there was any.
check_run() {
	local bad=0 ag bets win _ rc k draws=0 m n
	while read -r ag bets win _; do
		wait_pid "${CPID[$ag]}" 120
		rc=$?
		[ $rc -eq 0 ] || { echo "agency $ag exited $rc"; bad=1; }
		k=$(sed -n 's/.*cant_ganadores: \([0-9][0-9]*\).*/\1/p' \
		    "$TD/client-$ag.log" 2>/dev/null | tail -n 1)
		[ "$k" = "$win" ] || { echo "agency $ag: ${k:-no} winners, expected $win"; bad=1; }
	done <"$G/data/expected.txt"
	n=$(lines "$G/m2/bets.csv")
	[ "$n" -eq "$total" ] || { echo "bets.csv has $n lines, expected $total"; bad=1; }
	for m in "$@"; do
		n=$(grep -c 'action: sorteo | result: success' "$TD/r$m.log" 2>/dev/null)
		draws=$((draws + ${n:-0}))
	done
	[ $draws -eq 1 ] || { echo "$draws draws logged, expected 1"; bad=1; }
	return $bad
}

# stop_replicas: SIGTERM to those still running.
stop_replicas() {
	local m
	for m in 1 2 3; do
		kill "${SPID[r$m]}" 2>/dev/null
		wait_pid "${SPID[r$m]}" 15 >/dev/null
	done
}

k=1
while [ "$k" -le "$RUNS" ]; do
	t0=$(date +%s.%N)
	why=
	start_cluster || why="start failed"
	# Not in $(...): the agencies are children of this shell, not of a
	# subshell.
	if [ -z "$why" ]; then
		check_run 1 2 3 >"$G/why"
		why=$(tr '\n' ';' <"$G/why")
	fi
	secs=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
	stop_replicas
	if [ -z "$why" ]; then
		pass "gluster run $k (${secs}s)"
	else
		fail "gluster run $k (${secs}s): $why"
		grep -h 'CRITICAL\|ERROR' "$TD"/r*.log | head -n 5
		mkdir -p integration-logs && cp -r "$TD" "integration-logs/gluster-run-$k"
	fi
	k=$((k + 1))
done

# The partition.  Mount 1's connections, found by its client's pid, are
# dropped both ways inside the namespace once its replica has stored
# bets; the client reconnects later from new ports, by which time its
# locks are gone and the descriptors that held them are bad.  The
# agencies send small batches one at a time, so the cut comes while they
# upload (a whole run at full speed takes well under a second), and the
# replicas are stopped (SIGSTOP) around the cut: nothing is stored from
# the stop to the SIGCONT, so what the files say then is exactly what the
# cut caught, not a look taken while the upload runs on.
start_cluster CLI_BATCH_MAXAMOUNT=10 CLI_BATCH_WINDOW=1 ||
    echo "partition: the cluster did not start"
for _ in $(seq 300); do
	grep -q 'action: apuesta_recibida | result: success' "$TD/r1.log" && break
	sleep 0.1
done
kill -STOP "${SPID[r1]}" "${SPID[r2]}" "${SPID[r3]}"
ports=$(in_ns ss -tnpH | grep "pid=${GLPID[1]}," |
    awk '{ n = split($4, a, ":"); print a[n] }')
for p in $ports; do
	ip netns exec "$NS" iptables -I INPUT -p tcp --dport "$p" -j DROP
	ip netns exec "$NS" iptables -I OUTPUT -p tcp --sport "$p" -j DROP
done
at=$(lines "$G/m2/bets.csv")
mid=0
while read -r ag bets _; do
	n=$(LC_ALL=C grep -c "^$ag," "$G/m2/bets.csv")
	[ "$n" -gt 0 ] && [ "$n" -lt "$bets" ] &&
	    ! grep -qx "$ag" "$G/m2/agencies_closed.txt" 2>/dev/null &&
	    mid=$((mid + 1))
done <"$G/data/expected.txt"
kill -CONT "${SPID[r1]}" "${SPID[r2]}" "${SPID[r3]}"
echo "cut mount 1 (ports $(echo $ports)) at $at bets, $mid agencies mid-upload"
ok=true
[ "$mid" -gt 0 ] || { echo "no agency was mid-upload at the cut"; ok=false; }
wait_pid "${SPID[r1]}" 90
rc=$?
crit=$(grep 'CRITICAL' "$TD/r1.log" | head -n 1)
echo "replica 1: exit $rc; ${crit:-no CRITICAL line}"
[ $rc -eq 1 ] && [ -n "$crit" ] || ok=false
check_run 2 3 || ok=false
check "partition: the cut-off replica stops (CRITICAL, exit 1), the others exact" $ok
$ok || { mkdir -p integration-logs && cp -r "$TD" integration-logs/gluster-partition; }
stop_replicas

cleanup
tally gluster
