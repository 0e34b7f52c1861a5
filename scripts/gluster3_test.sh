#!/bin/bash
# The GlusterFS replica-3 stage of `make test`: the state directory on a
# volume whose three bricks live on three storage hosts, so losing one
# host loses nothing.  Each storage host is a network namespace (10.78.0.1,
# .2, .3) with its own mount namespace, in which /run, /var/lib/glusterd
# and /var/log/glusterfs are its own: the gluster CLI reaches glusterd only
# through /run/glusterd.socket, so that is what lets three glusterd share
# one machine.  The hosts hang off a bridge in a fourth namespace (the
# hub, 10.78.0.100), where the FUSE mounts of the three lottery replicas
# (build/bin/server, host processes) run.  The hosts, the volume's
# settings and the mounts are scripts/gluster-lib.sh's.  Checks:
#   - throughput: the same upload on the replica-3 volume and on a
#     one-brick volume (GLUSTER3_RUNS each, 3 by default), every run
#     exact; bets per second of each, the median printed side by side;
#   - one host killed (its glusterd and brick, SIGKILL) while the agencies
#     upload in batches of 10 with a window of 1: bets stored before and
#     after the kill, every agency still uploading when it came; the run
#     ends exact;
#   - the host back: self-heal leaves no entry in `heal info` within a
#     bounded wait, and the three bricks hold the same bets.csv,
#     agencies_closed.txt and cluster.meta;
#   - two hosts cut off (their links down): the replicas refuse or stop
#     (every agency is refused twice and is still uploading, and no batch
#     is acknowledged after a refusal), every bet an agency was told is
#     stored is in bets.csv once the hosts are back and the replicas'
#     mounts are made again, and after the replicas and agencies start
#     again the run ends exact.
# GLUSTER3_NOQUORUM=1 runs without the quorums and GLUSTER3_NOREMOUNT=1
# without the remount, to see the checks fail without them.
# One line per check, then `gluster3: N passed, M failed`.  Exits 77 with
# the reason when this machine cannot run it.  docs/operations.md
# explains the volume settings.
set -u
cd "$(dirname "$0")/.." || exit 1

skip() {
	echo "GlusterFS replica-3 stage skipped: $*"
	exit 77
}

. scripts/gluster-lib.sh
gl_require
[ -x build/bin/server ] && [ -x build/bin/client ] && [ -x build/bin/gendata ] ||
    { echo "build/bin lacks server, client or gendata: run make build" >&2; exit 1; }

BIN=build/bin
. scripts/lib.sh

NS=lottery-g3-$$
VOL=lotg3r$$		# replica 3
SVOL=lotg3s$$		# one brick, for the throughput comparison
NET=10.78.0
RUNS=${GLUSTER3_RUNS:-3}
BETS=${GLUSTER3_BETS:-20000}
G=$(mktemp -d /tmp/lottery-gluster3.XXXXXX) || exit 1
TD=$G/run

cleanup() {
	# The mount clients first: a replica stuck in a request its mount
	# never answers goes only when the mount's connection is gone.
	gl_kill_mounts
	lib_cleanup
	gl_cleanup "$VOL" "$SVOL"
	rm -rf "$G"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

gl_pool

gl_volume "$VOL" replica3${GLUSTER3_NOQUORUM:+-noquorum}
gl_volume "$SVOL" single
echo "gluster3: volume $VOL replica 3 on $NET.1-3, $SVOL one brick on $NET.1, $(glusterfs --version | head -n 1)"

for m in 1 2 3; do
	gl_mount "$VOL" "$G/m$m" && gl_mount "$SVOL" "$G/s$m" || exit 1
done
if [ -x build/bin/lockcheck ]; then
	check "lockcheck on the replica-3 volume" build/bin/lockcheck "$G/m1/lockcheck"
	rm -f "$G/m1/lockcheck"
fi

mkdir -p "$TD" "$G/data"
"$BIN/gendata" -o "$G/data" -a 5 -n "$BETS" -s 7 >/dev/null || exit 1
total=$(awk '{ s += $2 } END { print s }' "$G/data/expected.txt")
{
	echo "127.0.0.1 localhost"
	echo "127.0.0.1 lottery-gluster"
	echo "127.0.0.2 lottery-gluster"
	echo "127.0.0.3 lottery-gluster"
} >"$TD/hosts"
PORT=$(free_port)

# start_replicas PREFIX: a replica on each of PREFIX1..3 (m or s).
start_replicas() {
	local m
	for m in 1 2 3; do
		start_server "r$m" "$PORT" "$G/$1$m" 5 SERVER_IP=127.0.0.$m ||
		    { echo "replica $m did not start"; tail -n 3 "$TD/r$m.log"; return 1; }
	done
}

# start_agencies [VAR=VALUE...]: the five agencies with those settings.
start_agencies() {
	local a
	for a in 1 2 3 4 5; do
		CLIENT_HOST=lottery-gluster CLIENT_HOSTS=$TD/hosts \
		    start_client "$a" "$PORT" "$G/data" "$@"
	done
}

# start_cluster PREFIX [VAR=VALUE...]: a new lottery on PREFIX's volume:
# the state files gone, the replicas, then the agencies.
start_cluster() {
	local p=$1
	shift
	rm -f "$G/${p}1/bets.csv" "$G/${p}1/agencies_closed.txt" \
	    "$G/${p}1/cluster.meta" "$G/${p}1/draw.logged"
	rm -f "$TD"/*.log
	start_replicas "$p" || return 1
	start_agencies "$@"
}

# check_run DIR: every agency exited 0 with its winners, DIR/bets.csv
# holds every bet once, one draw across the replicas' logs.  Prints the
# problems; 1 when there was any.
check_run() {
	local bad=0 ag bets win _ rc k n draws
	while read -r ag bets win _; do
		wait_pid "${CPID[$ag]}" 180
		rc=$?
		[ $rc -eq 0 ] || { echo "agency $ag exited $rc"; bad=1; }
		k=$(sed -n 's/.*cant_ganadores: \([0-9][0-9]*\).*/\1/p' \
		    "$TD/client-$ag.log" 2>/dev/null | tail -n 1)
		[ "$k" = "$win" ] || { echo "agency $ag: ${k:-no} winners, expected $win"; bad=1; }
	done <"$G/data/expected.txt"
	n=$(lines "$1/bets.csv")
	[ "$n" -eq "$total" ] || { echo "bets.csv has $n lines, expected $total"; bad=1; }
	n=$(sort -u "$1/bets.csv" | wc -l)
	[ "$n" -eq "$total" ] || { echo "bets.csv has $n distinct lines, expected $total"; bad=1; }
	draws=$(cat "$TD"/r[123].log | grep -c 'action: sorteo | result: success')
	[ "$draws" -eq 1 ] || { echo "$draws draws logged, expected 1"; bad=1; }
	return $bad
}

# reap PID SECONDS: wait for a child that was told to go, SIGKILL after
# SECONDS; 1, with a line naming the stuck threads, when it is still there
# SECONDS after that.  Never waits without a deadline: a process whose
# thread sits in a FUSE request that its mount never answers cannot be
# reaped (wait would block), and that is a finding, not a hang.
reap() {
	local pid=$1 i st
	for ((i = 0; i < $2 * 20; i++)); do
		st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
		case $st in
		'') wait "$pid" 2>/dev/null; return 0 ;;
		Z) [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ] &&
		    { wait "$pid" 2>/dev/null; return 0; } ;;
		esac
		[ $i -eq $(($2 * 10)) ] && kill -9 "$pid" 2>/dev/null
		sleep 0.05
	done
	echo "process $pid cannot be reaped: $(cat /proc/"$pid"/task/*/wchan 2>/dev/null | tr '\0' ' ')"
	return 1
}

# stop_replicas [SIGNAL]: SIGTERM (or SIGNAL) to those still running,
# SIGKILL after 10 s; 1 when one cannot be reaped.
stop_replicas() {
	local m bad=0
	for m in 1 2 3; do
		kill -"${1:-TERM}" "${SPID[r$m]}" 2>/dev/null
	done
	for m in 1 2 3; do
		reap "${SPID[r$m]}" 20 || bad=1
	done 2>/dev/null
	return $bad
}

# keep_logs NAME: the run's logs to integration-logs/gluster3-NAME.
keep_logs() {
	mkdir -p integration-logs && rm -rf "integration-logs/gluster3-$1" &&
	    cp -r "$TD" "integration-logs/gluster3-$1"
}

# median: the middle of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# ---- throughput: the same upload on both volumes ----
# whole_run PREFIX LABEL: one run at full speed; prints its bets per
# second on fd 3, the check on stdout.
whole_run() {
	local t0 secs why
	t0=$(date +%s.%N)
	why=
	start_cluster "$1" || why="start failed"
	if [ -z "$why" ]; then
		check_run "$G/${1}1" >"$G/why"
		why=$(tr '\n' ';' <"$G/why")
	fi
	secs=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
	stop_replicas
	if [ -z "$why" ]; then
		pass "$2 (${secs}s)"
		echo "$secs" | awk -v n="$total" '{ printf "%d\n", n / $1 }' >&3
	else
		fail "$2 (${secs}s): $why"
		keep_logs "$2"
	fi
}

: >"$G/rate.m"
: >"$G/rate.s"
for k in $(seq "$RUNS"); do
	whole_run s "one brick, run $k" 3>>"$G/rate.s"
	whole_run m "replica 3, run $k" 3>>"$G/rate.m"
done
rs=$(median <"$G/rate.s")
rm_=$(median <"$G/rate.m")
echo "throughput ($total bets, 5 agencies, 3 replicas, median of $RUNS): one brick ${rs:-?} bets/s, replica 3 ${rm_:-?} bets/s"
# The one-brick volume is done with.
for m in 1 2 3; do
	gl_umount "$G/s$m"
done
gl_cli 1 volume stop "$SVOL" >/dev/null

# ---- one host killed mid-upload ----
# Batches of 10, one at a time: the upload takes many round trips, so the
# kill lands while it goes on (proved below, not assumed).
slow="CLI_BATCH_MAXAMOUNT=10 CLI_BATCH_WINDOW=1 CLI_LOG_LEVEL=DEBUG"
# shellcheck disable=SC2086
start_cluster m $slow || echo "kill: the cluster did not start"
wait_lines "$G/m1/bets.csv" $((total / 10)) 120
before=$(lines "$G/m1/bets.csv")
alive=0
for a in 1 2 3 4 5; do
	kill -0 "${CPID[$a]}" 2>/dev/null && alive=$((alive + 1))
done
killed=$(gl_host_kill 2)
echo "killed host 2 ($killed) at $before bets, $alive of 5 agencies uploading"
ok=true
[ "$before" -gt 0 ] && [ "$before" -lt "$total" ] && [ $alive -eq 5 ] ||
    { echo "the kill did not come mid-upload"; ok=false; }
case " $killed " in *" glusterd "*) ;; *) echo "host 2's glusterd was not killed"; ok=false ;; esac
case " $killed " in *" glusterfsd "*) ;; *) echo "host 2's brick was not killed"; ok=false ;; esac
wait_lines "$G/m1/bets.csv" $((before + 1)) 60 ||
    { echo "no bet stored after the kill"; ok=false; }
echo "stored after the kill: $(lines "$G/m1/bets.csv") bets and counting"
check_run "$G/m1" || ok=false
check "one host killed mid-upload: uploads go on, the run is exact" $ok
$ok || keep_logs kill
stop_replicas

# ---- the host back: self-heal ----
# Heal waits: a brick host back after losing quorum restarts its brick
# and the others reconnect to it with a growing backoff: 151 s was seen
# on a loaded machine, so the bound is generous.
HEAL_WAIT=${HEAL_WAIT:-300}

ok=true
stale=$(lines "$G/h2/brick/bets.csv")
echo "brick 2 holds $stale bets when its host comes back"
[ "$stale" -lt "$total" ] || { echo "brick 2 has nothing to heal"; ok=false; }
gl_glusterd_start 2 || { echo "glusterd did not start again on host 2"; ok=false; }
t0=$(date +%s)
gl_wait_heal "$VOL" "$HEAL_WAIT" || { echo "heal not done in $HEAL_WAIT s:"; gl_cli 1 volume heal "$VOL" info; ok=false; }
echo "healed in $(($(date +%s) - t0)) s; brick 2 holds $(lines "$G/h2/brick/bets.csv") bets"
gl_same_bricks || ok=false
check "host back: self-heal completes, the three copies equal" $ok

# ---- two hosts cut off ----
# The hub's ends of hosts 2 and 3's links go down: host 1 is alone with
# the mounts, and neither client quorum (2 bricks) nor server quorum
# (2 glusterd) is met.

# acked AGENCY: how many of the agency's bets it was told are stored (the
# end of its last acknowledged batch; batches go one at a time).
acked() {
	sed -n 's/.*lote_enviado | result: success | cantidad: \([0-9]*\) | posicion: \([0-9]*\).*/\1 \2/p' \
	    "$TD/client-$1.log" | awk '{ e = $1 + $2; if (e > m) m = e } END { print m + 0 }'
}

# since AGENCY LINE: the agency's log after its line LINE.
since() {
	tail -n +"$(($2 + 1))" "$TD/client-$1.log"
}

# refused_twice AGENCY LINE: 0 when the agency's log, after LINE, shows
# two refusals or lost replicas.  An agency that ended during the cut
# either finished (its bets acknowledged with one copy) or gave up: both
# fail the check.
refused_twice() {
	[ "$(since "$1" "$2" | grep -c 'result: fail')" -ge 2 ]
}

# acked_after_refusal AGENCY LINE: the batches acknowledged to the agency
# after its first refusal since LINE (none while two hosts are cut off).
acked_after_refusal() {
	since "$1" "$2" | awk '/result: fail/ { f = 1 }
	    f && /lote_enviado \| result: success/ { n++ } END { print n + 0 }'
}

ok=true
# shellcheck disable=SC2086
start_cluster m $slow || { echo "cut: the cluster did not start"; ok=false; }
wait_lines "$G/m1/bets.csv" $((total / 10)) 120
before=$(lines "$G/m1/bets.csv")
declare -A mark
for a in 1 2 3 4 5; do
	mark[$a]=$(lines "$TD/client-$a.log")
done
ip -n "$NS-hub" link set h2 down && ip -n "$NS-hub" link set h3 down ||
    { echo "cannot cut hosts 2 and 3"; ok=false; }
echo "cut hosts 2 and 3 at $before bets"
[ "$before" -gt 0 ] && [ "$before" -lt "$total" ] ||
    { echo "the cut did not come mid-upload"; ok=false; }
# Every agency meets a refusal or a dead replica, and then another (its
# retry refused too): bounded wait.
# By the clock, not by a count of rounds: a round is slow on a busy
# machine.
deadline=$((SECONDS + 90))
while :; do
	n=0
	for a in 1 2 3 4 5; do
		refused_twice "$a" "${mark[$a]}" && n=$((n + 1))
	done
	[ $n -eq 5 ] || [ $SECONDS -ge $deadline ] && break
	sleep 0.1
done
[ $n -eq 5 ] || { echo "only $n of 5 agencies saw two refusals within 90 s"; ok=false; }
for a in 1 2 3 4 5; do
	kill -0 "${CPID[$a]}" 2>/dev/null ||
	    { echo "agency $a ended during the cut"; ok=false; }
done
{
	for a in 1 2 3 4 5; do
		kill -9 "${CPID[$a]}" 2>/dev/null
		reap "${CPID[$a]}" 10
	done
} 2>/dev/null
# The mounts take no write now (client quorum): a write through mount 1
# fails (EROFS or ENOTCONN) instead of landing on the lone brick.
if timeout -k 5 30 sh -c 'echo probe >>"$1"' sh "$G/m1/quorum-probe" 2>"$G/probe.err"; then
	echo "a write through mount 1 went through during the cut"
	ok=false
else
	echo "a write through mount 1 during the cut: $(sed 's/.*: //' "$G/probe.err" | head -n 1)"
fi
# Once refused, nothing more is acknowledged while the cut lasts: a lone
# brick takes no writes (client quorum).
late=0
for a in 1 2 3 4 5; do
	late=$((late + $(acked_after_refusal "$a" "${mark[$a]}")))
done
echo "batches acknowledged during the cut after a refusal: $late"
[ $late -eq 0 ] || ok=false
stopped=0
for m in 1 2 3; do
	kill -0 "${SPID[r$m]}" 2>/dev/null || stopped=$((stopped + 1))
done
echo "during the cut: $stopped of 3 replicas stopped, $(cat "$TD"/r*.log |
    grep -c 'CRITICAL') CRITICAL lines; the agencies' failures by reason:"
for a in 1 2 3 4 5; do
	since "$a" "${mark[$a]}"
done | sed -n 's/.*result: fail.*motivo: \(.*\)/\1/p' | sed 's/[0-9][0-9]*/N/g' |
    sort | uniq -c | sed 's/^ */  /'

# A replica whose lock request went to the bricks before the cut may
# wait in it for good (its thread in the kernel, unkillable): the mount
# never answers that request.  Counted here; the remount below ends it.
stuck=$(stop_replicas KILL | grep -c 'cannot be reaped')
echo "replicas stuck in a request of their mount: $stuck"
declare -A ack
for a in 1 2 3 4 5; do
	ack[$a]=$(acked "$a")
done
ip -n "$NS-hub" link set h2 up && ip -n "$NS-hub" link set h3 up ||
    { echo "cannot bring hosts 2 and 3 back"; ok=false; }
t0=$(date +%s)
gl_wait_heal "$VOL" "$HEAL_WAIT" || { echo "heal not done in $HEAL_WAIT s after the cut:"; gl_cli 1 volume heal "$VOL" info; ok=false; }
echo "back and healed in $(($(date +%s) - t0)) s"
# The lottery hosts' mounts are made again: the old ones keep descriptors
# strict-locks marked bad (a new open of bets.csv through them meets
# EBADFD) and the requests they never answer.
# GLUSTER3_NOREMOUNT=1 keeps the old mounts, to see the need.
for m in 1 2 3; do
	[ -n "${GLUSTER3_NOREMOUNT-}" ] && break
	gl_remount "$G/m$m" || ok=false
done
for m in 1 2 3; do
	reap "${SPID[r$m]}" 20 || { echo "replica $m still stuck after the remount"; ok=false; }
done
rm -f "$G/m1/quorum-probe"
# Every acknowledged bet is stored: the first ack[a] rows of agency a's
# file, by document, are among its rows in bets.csv.
for a in 1 2 3 4 5; do
	miss=$(head -n "${ack[$a]}" "$G/data/agency-$a.csv" | cut -d, -f3 | tr -d '\r' |
	    sort -u | comm -23 - <(awk -F, -v a="$a" '$1 == a { print $4 }' \
	    "$G/m1/bets.csv" | tr -d '\r' | sort -u) | wc -l)
	echo "agency $a: ${ack[$a]} bets acknowledged, $miss of them missing"
	[ "$miss" -eq 0 ] || ok=false
done
check "two hosts cut: nothing acknowledged is lost" $ok
ok=true
start_replicas m || ok=false
start_agencies
check_run "$G/m1" || ok=false
# A brick the mounts reached late missed some writes: healed first.
gl_wait_heal "$VOL" "$HEAL_WAIT" || { echo "heal not done in $HEAL_WAIT s after the run"; ok=false; }
gl_same_bricks || ok=false
check "two hosts cut: after recovery the run is exact" $ok
$ok || keep_logs cut
stop_replicas

cleanup
tally gluster3
