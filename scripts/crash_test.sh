#!/bin/bash
# crash_test.sh: power cuts under a live cluster.  CRASH_REPLICAS replicas
# share a state directory on faultfs in power-cut mode (scripts/faultfs.c
# -o powercut) while CRASH_AGENCIES agencies upload with several batches in
# flight.  At random moments the test kill -9s every replica at once, cuts
# the power (every file goes back to its last fsync or fdatasync, every
# directory entry to the last directory sync, the last unsynced write of a
# file maybe torn), checks the state left, restarts the replicas and lets
# the agencies carry on (they reconnect and resume with AgencyStatus).
#
# The agencies run with the protocol setting they ship with
# (CRASH_PROTOCOL, auto): an agency whose probe meets a replica killed
# twice in a row must not take the cluster for a base-protocol server,
# which would resend batches without positions and store them twice.
#
# What an agency was told is read from its own log at DEBUG: each
# acknowledged batch ("lote_enviado ... success", its position and count)
# and each AgencyStatus answer (the count it will skip).  The logs are read
# before the state, so every acknowledgement counted was sent before the
# cut.  After each cut: per agency the rows in bets.csv are at least the
# highest position acknowledged; every whole line of bets.csv and
# agencies_closed.txt is a valid row (scripts/statecheck.c, the project's
# CSV reader and bet rules); a torn last line is counted; when any agency
# was served its winners, every agency is still closed.  After each phase
# (a fresh, empty state directory, so cuts also land on the creation of
# cluster.meta, bets.csv and agencies_closed.txt): every agency exited 0
# with its expected winners, bets.csv holds every generated bet exactly
# once, and one sorteo line was logged.
#
# Where each cut fell is read from faultfs's line for it (files with
# unsynced writes, unsynced names) and from the state: "create" (a state
# file or its name not yet durable), "commit" (bets.csv written, its sync
# not done: a group commit in flight), "close" (agencies_closed.txt
# unsynced, or some but not all agencies closed), "draw" (all closed, some
# agency still waiting for its winners), "upload" (none of these).
#
# CRASH_CUTS cuts in all (default 200), at most CRASH_PHASE_CUTS a phase;
# CRASH_SEED replays the choices (the interleaving is the scheduler's);
# the run stops at the first failed check unless CRASH_GO_ON is set.
# Exits 77 when FUSE is not usable here, 1 when any check failed (the run
# is kept for its logs; CRASH_KEEP=1 keeps any run).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

CRASH_SEED=${CRASH_SEED:-$((($(date +%s) + $$) % 32768))}
CRASH_CUTS=${CRASH_CUTS:-200}
CRASH_PHASE_CUTS=${CRASH_PHASE_CUTS:-12}
CRASH_REPLICAS=${CRASH_REPLICAS:-3}
CRASH_AGENCIES=${CRASH_AGENCIES:-5}
CRASH_BETS=${CRASH_BETS:-20000}	# bets a phase, all agencies
CRASH_BATCH=${CRASH_BATCH:-10}
CRASH_WINDOW=${CRASH_WINDOW:-4}
CRASH_STALL=${CRASH_STALL:-60}	# seconds without progress that fail a phase
CRASH_PROTOCOL=${CRASH_PROTOCOL:-auto}	# the agencies' protocol setting
RANDOM=$CRASH_SEED

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null ||
    ! tool faultfs >/dev/null; then
	echo "crash: no /dev/fuse, fusermount3 or faultfs here: skipped"
	exit 77
fi
SC=$(tool statecheck) || { echo "crash: no statecheck tool"; exit 1; }

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/crash.XXXXXX")
trap lib_cleanup EXIT
cuts=0
declare -A WHERE=([create]=0 [commit]=0 [close]=0 [draw]=0 [upload]=0
    [torn]=0 [phases]=0 [aimed]=0)
declare -a PORT		# replica i's port
declare -A STATE	# agency id -> running, done, failed

between() {
	echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

# launch I: start replica I without waiting for it: a cut may come
# while it is still creating its files.  The agencies retry meanwhile.
launch() {
	local i=$1
	server_conf "$TD/srv$i.ini" "${PORT[$i]}" "$TD/state" "$CRASH_AGENCIES"
	"$BIN/server" -c "$TD/srv$i.ini" >>"$TD/srv$i.log" 2>&1 &
	SPID[srv$i]=$!
	PIDS+=($!)
}

run_agency() {
	local a=$1
	start_client "$a" "${PORT[$(((a - 1) % CRASH_REPLICAS + 1))]}" \
	    "$TD/data" CLI_BATCH_MAXAMOUNT="$CRASH_BATCH" \
	    CLI_BATCH_WINDOW="$CRASH_WINDOW" CLI_LOG_LEVEL=DEBUG \
	    CLI_TIMEOUT=2s CLI_RETRY_MAX=1000 CLI_PROTOCOL="$CRASH_PROTOCOL"
	STATE[$a]=running
}

# reap: as soak.sh: 0 done, 3 (stopped before the end) rerun, else failed.
reap() {
	local a rc
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		[ "${STATE[$a]}" = running ] || continue
		kill -0 "${CPID[$a]}" 2>/dev/null && continue
		wait "${CPID[$a]}"
		rc=$?
		case $rc in
		0)	STATE[$a]=done ;;
		3)	run_agency "$a" ;;
		*)	STATE[$a]="failed (exit $rc)" ;;
		esac
	done
}

running() {
	local a out=
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		[ "${STATE[$a]}" = running ] && out="$out $a"
	done
	echo $out
}

# acked A: the most bets agency A was told are stored, from its log: the
# end of each acknowledged batch and each AgencyStatus count.
acked() {
	[ -f "$TD/client-$1.log" ] || { echo 0; return; }
	LC_ALL=C awk '
	/action: lote_enviado \| result: success/ {
		match($0, /cantidad: [0-9]+/); n = substr($0, RSTART + 10, RLENGTH - 10)
		match($0, /posicion: [0-9]+/); p = substr($0, RSTART + 10, RLENGTH - 10)
		if (p + n > max) max = p + n
	}
	/action: agency_status \| result: success/ {
		match($0, /almacenadas: [0-9]+/); s = substr($0, RSTART + 13, RLENGTH - 13)
		if (s + 0 > max) max = s + 0
	}
	END { print max + 0 }' "$TD/client-$1.log" 2>/dev/null
}

# served: 0 when some agency has been given its winners.
served() {
	grep -qs 'action: consulta_ganadores | result: success' "$TD"/client-*.log
}

# power_cut: kill every replica in one kill, cut the power, check what stayed,
# classify where the cut fell, restart the replicas.  A replica held
# inside a call cannot end before faultfs answers it: the cut comes once
# nothing but such calls is left of it, and the call, released by the
# cut, then runs on what the power cut left, as after a real one.
power_cut() {
	local i a pids=() have n tear= line closed ok=1 want_closed
	declare -A ACK
	for ((i = 1; i <= CRASH_REPLICAS; i++)); do
		pids+=("${SPID[srv$i]}")
	done
	# The shell's notices of its killed jobs come when it reaps them,
	# which is after the cut for a held one: silenced until then.
	exec 3>&2 2>/dev/null
	kill -9 "${pids[@]}"
	for i in "${pids[@]}"; do
		only_held_left "$i"
	done
	# The agencies' logs first: nothing acknowledged after this point.
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		ACK[$a]=$(acked "$a")
	done
	served && want_closed=1 || want_closed=0
	[ $((RANDOM % 2)) -eq 0 ] && tear=tear
	cuts=$((cuts + 1))
	n=$(grep -c '^faultfs: cut ' "$TD/faultfs.log")
	faultfs_arm "$TD/ctl" "cut $tear seed $RANDOM"
	stat "$TD/state" >/dev/null
	line=$(grep '^faultfs: cut ' "$TD/faultfs.log" | sed -n "$((n + 1))p")
	if [ -z "$line" ]; then
		fail "phase $PHASE cut $cuts: faultfs did not cut" \
		    "($(tail -n 2 "$TD/faultfs.log" | tr '\n' ' '))"
		exec 2>&3 3>&-
		return 1
	fi
	"$SC" "$TD/back" "$CRASH_AGENCIES" >"$TD/check.$cuts" 2>&1 || {
		fail "phase $PHASE cut $cuts: the state is damaged:" \
		    "$(grep -v '^stored\|^closed\|^meta\|^rows' "$TD/check.$cuts" |
		    head -n 3 | tr '\n' ' ')"
		ok=0
	}
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		have=$(awk -v a="$a" '$1 == "stored" && $2 == a { print $3 }' \
		    "$TD/check.$cuts")
		if [ "${have:-0}" -lt "${ACK[$a]}" ]; then
			fail "phase $PHASE cut $cuts: agency $a was told" \
			    "${ACK[$a]} bets are stored, ${have:-0} survived" \
			    "($line)"
			ok=0
		fi
	done
	closed=$(grep -c '^closed ' "$TD/check.$cuts")
	if [ "$want_closed" -eq 1 ] && [ "$closed" -ne "$CRASH_AGENCIES" ]; then
		fail "phase $PHASE cut $cuts: winners were served but only" \
		    "$closed agencies are closed after the cut ($line)"
		ok=0
	fi
	classify "$line" "$closed"
	for i in "${pids[@]}"; do
		wait "$i"
	done
	exec 2>&3 3>&-
	for ((i = 1; i <= CRASH_REPLICAS; i++)); do
		launch "$i"
	done
	[ $ok -eq 1 ]
}

# only_held_left PID: waits (up to 60 s) until the killed process PID is
# gone or all that is left of it is dead threads and threads asleep in
# the kernel (state D: a call faultfs holds, which a kill cannot end).
only_held_left() {
	local t st
	for ((t = 0; t < 600; t++)); do
		st=$(cat /proc/"$1"/task/*/stat 2>/dev/null |
		    awk '$3 != "Z" && $3 != "D"' | wc -l)
		[ "$st" -eq 0 ] && return 0
		sleep 0.1
	done
	fail "phase $PHASE: killed replica $1 did not end"
}

# classify CUTLINE CLOSED: count where the cut fell (see the top).
classify() {
	local line=$1 closed=$2 dropped reverted
	dropped=${line#*dropped: }
	dropped=${dropped%% | *}
	reverted=${line#*reverted: }
	reverted=${reverted%% | *}
	case $line in
	*"torn: 0 "*) ;;
	*) WHERE[torn]=$((WHERE[torn] + 1)) ;;
	esac
	if [[ ,$dropped, == *,bets.csv,* || ,$dropped, == *,agencies_closed.txt,* ||
	    ,$dropped, == *cluster.meta* ]] ||
	    grep -q '^meta no' "$TD/check.$cuts" ||
	    [ ! -e "$TD/back/bets.csv" ] ||
	    [ ! -e "$TD/back/agencies_closed.txt" ]; then
		WHERE[create]=$((WHERE[create] + 1))
	elif [[ ,$reverted, == *,bets.csv,* ]]; then
		WHERE[commit]=$((WHERE[commit] + 1))
	elif [[ ,$reverted, == *,agencies_closed.txt,* ]] ||
	    { [ "$closed" -gt 0 ] && [ "$closed" -lt "$CRASH_AGENCIES" ]; }; then
		WHERE[close]=$((WHERE[close] + 1))
	elif [ "$closed" -eq "$CRASH_AGENCIES" ]; then
		WHERE[draw]=$((WHERE[draw] + 1))
	else
		WHERE[upload]=$((WHERE[upload] + 1))
	fi
}

# ---- two fixed cases: the names of the state files must be durable ----

# case_setup NAME: a directory for one case, faultfs in power-cut mode
# mounted on its state directory, PORT[1] chosen; exits 77 without FUSE.
case_setup() {
	PHASE=$1
	TD=$ROOT/$1
	mkdir -p "$TD"
	if ! faultfs_mount "$TD/back" "$TD/state" "$TD/ctl" "$TD/faultfs.log" \
	    -o "powercut=$TD/images"; then
		if grep -qE 'device not found|not permitted|Permission denied' \
		    "$TD/faultfs.log"; then
			echo "crash: FUSE mounts not allowed here: skipped"
			exit 77
		fi
		fail "$1: faultfs did not mount"
		return 1
	fi
	PORT[1]=$(free_port)
	LIB_PORT=${PORT[1]}
}

# case_cut: kill replica 1, cut the power, statecheck into $TD/check.
case_cut() {
	{
		kill -9 "${SPID[srv1]}"
		wait "${SPID[srv1]}"
	} 2>/dev/null
	faultfs_arm "$TD/ctl" "cut"
	stat "$TD/state" >/dev/null
	grep -q '^faultfs: cut 1:' "$TD/faultfs.log" ||
	    fail "$PHASE: faultfs did not cut"
	"$SC" "$TD/back" 1 >"$TD/check" 2>&1
}

# stored_after_cut N: pass when the cut kept at least N bets of agency 1.
stored_after_cut() {
	local have
	have=$(awk '$1 == "stored" && $2 == 1 { print $3 }' "$TD/check")
	if [ "${have:-0}" -ge "$1" ]; then
		pass "$PHASE: the $1 acknowledged bets survived the cut"
	else
		fail "$PHASE: $1 bets acknowledged, ${have:-0} survived the cut" \
		    "($(grep '^faultfs: cut' "$TD/faultfs.log"))"
	fi
}

# case_dirsync_fails: the state directory cannot be synced (fsyncdir
# EIO) when a replica starts on it: bets.csv's name is not durable, so
# the replica must not acknowledge anything; if it does, the cut shows
# the acknowledged bets gone with the name.
case_dirsync_fails() {
	local r
	case_setup dirsync_fails || return
	faultfs_arm "$TD/ctl" "fsyncdir EIO"
	launch 1
	until r=$(req "${PORT[1]}" \
	    "StoreBatchAt:1:0:Ana;Paz;20000001;1990-01-01;1") &&
	    [ "$r" != "<closed>" ]; do
		kill -0 "${SPID[srv1]}" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "${SPID[srv1]}" 2>/dev/null; then
		wait "${SPID[srv1]}"
		if [ $? -ne 0 ] && grep -q 'action: sync_dir | result: fail' \
		    "$TD/srv1.log"; then
			pass "$PHASE: the replica refused to start"
		else
			fail "$PHASE: the replica ended without a sync_dir failure" \
			    "($(tail -n 2 "$TD/srv1.log" | tr '\n' ' '))"
		fi
		return
	fi
	[ "$r" = StoreResponse:0 ] || { fail "$PHASE: store: '$r'"; return; }
	case_cut
	stored_after_cut 1
}

# case_replaced: bets.csv replaced under a running replica (copied and
# renamed over, as the file_replaced host test does).  The replica opens
# the new file and acknowledges a batch in it: the new name must be
# durable by then, or the cut brings the old file back without the batch.
case_replaced() {
	local r f
	case_setup replaced || return
	f=$TD/state/bets.csv
	launch 1
	until r=$(req "${PORT[1]}" \
	    "StoreBatchAt:1:0:Ana;Paz;20000001;1990-01-01;1") &&
	    [ "$r" != "<closed>" ]; do
		kill -0 "${SPID[srv1]}" 2>/dev/null || break
		sleep 0.1
	done
	[ "$r" = StoreResponse:0 ] || { fail "$PHASE: first store: '$r'"; return; }
	cp "$f" "$TD/state/copy" && mv "$TD/state/copy" "$f"
	r=$(req "${PORT[1]}" "StoreBatchAt:1:1:Bea;Paz;20000002;1990-01-01;2")
	[ "$r" = StoreResponse:0 ] || { fail "$PHASE: store after mv: '$r'"; return; }
	grep -q 'action: reopen | result: success' "$TD/srv1.log" ||
	    fail "$PHASE: the replica logged no reopen"
	case_cut
	stored_after_cut 2
}

# case_close_unsynced: a replica dies between writing a close and
# syncing it (its fdatasync fails: it exits, as on any sync error), and
# another replica, reading the close line, sees every agency closed and
# serves the draw.  That close must be durable before the draw is
# served, or a cut takes back a draw agencies were already given.
case_close_unsynced() {
	local r i
	case_setup close_unsynced || return
	for i in 1 2; do
		[ "$i" -eq 2 ] && PORT[2]=$(free_port)
		LIB_PORT=${PORT[$i]}	# free_port ran in a subshell
		launch "$i"
		until [ "$(req "${PORT[$i]}" Echo:up 2>/dev/null)" = Echo:up ]; do
			kill -0 "${SPID[srv$i]}" 2>/dev/null ||
			    { fail "$PHASE: replica $i did not start"; return; }
			sleep 0.1
		done
	done
	r=$(req "${PORT[1]}" "StoreBatchAt:1:0:Ana;Paz;20000001;1990-01-01;1")
	[ "$r" = StoreResponse:0 ] || { fail "$PHASE: store: '$r'"; return; }
	faultfs_arm "$TD/ctl" "fdatasync EIO times 1"
	send_only "${PORT[1]}" AgencyClose:1
	wait "${SPID[srv1]}" 2>/dev/null
	faultfs_arm "$TD/ctl"
	grep -q 'faultfs: fdatasync /agencies_closed.txt: EIO' \
	    "$TD/faultfs.log" || {
		fail "$PHASE: the close's sync was not failed"
		return
	}
	r=$(req "${PORT[2]}" WinnersRequest:1)
	case $r in
	WinnersResponse:*) ;;
	*) fail "$PHASE: no draw served after the close: '$r'"; return ;;
	esac
	SPID[srv1]=${SPID[srv2]}
	case_cut
	if grep -q '^closed 1$' "$TD/check"; then
		pass "$PHASE: the close behind the served draw survived the cut"
	else
		fail "$PHASE: a draw was served, then the cut took its close" \
		    "back ($(grep '^faultfs: cut' "$TD/faultfs.log"))"
	fi
}

# check_rows: bets.csv holds every generated row once, agency prepended.
check_rows() {
	local a want got missing extra
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		sed "s/^/$a,/" "$TD/data/agency-$a.csv"
	done | LC_ALL=C sort >"$TD/want.sorted"
	LC_ALL=C sort "$TD/back/bets.csv" >"$TD/got.sorted" 2>/dev/null
	want=$(lines "$TD/want.sorted")
	got=$(lines "$TD/got.sorted")
	if cmp -s "$TD/want.sorted" "$TD/got.sorted"; then
		pass "phase $PHASE: bets.csv holds each of the $want bets once"
		return
	fi
	missing=$(LC_ALL=C comm -23 "$TD/want.sorted" "$TD/got.sorted" | wc -l)
	extra=$(LC_ALL=C comm -13 "$TD/want.sorted" "$TD/got.sorted" | wc -l)
	fail "phase $PHASE: bets.csv has $got rows, want $want: $missing" \
	    "missing, $extra extra or repeated"
}

check_agencies() {
	local a want k
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		want=$(awk -v a="$a" '$1 == a { print $3 }' "$TD/data/expected.txt")
		k=$(grep -ao 'cant_ganadores: [0-9]*' "$TD/client-$a.log" |
		    tail -n 1 | cut -d' ' -f2)
		if [ "${STATE[$a]}" = done ] && [ "$k" = "$want" ]; then
			pass "phase $PHASE: agency $a exited 0 with its $want winners"
		else
			fail "phase $PHASE: agency $a: ${STATE[$a]}, cant_ganadores" \
			    "'$k', want $want ($(tail -n 2 "$TD/client-$a.log" |
			    tr '\n' ' '))"
		fi
	done
}

check_draw() {
	local n
	n=$(cat "$TD"/srv*.log | grep -c 'action: sorteo | result: success')
	if [ "$n" -eq 1 ]; then
		pass "phase $PHASE: one sorteo across the replica logs"
	else
		fail "phase $PHASE: $n sorteo lines across the replica logs"
	fi
}

progress() {
	echo $(($(lines "$TD/back/bets.csv") + \
	    $(lines "$TD/back/agencies_closed.txt") + \
	    $(cat "$TD"/client-*.log 2>/dev/null | wc -l)))
}

# phase: a fresh state directory, cuts until this phase's share is spent
# (the first one maybe before the replicas have made their files), then
# the uploads run to the end undisturbed and the results are checked.
phase() {
	local i a last now t_last mine aim held
	PHASE=$((WHERE[phases] + 1))
	WHERE[phases]=$PHASE
	TD=$ROOT/phase$PHASE
	mkdir -p "$TD"
	"$BIN/gendata" -o "$TD/data" -a "$CRASH_AGENCIES" -n "$CRASH_BETS" \
	    -s $((CRASH_SEED + PHASE)) >"$TD/gendata.log" 2>&1 ||
	    { fail "phase $PHASE: gendata failed"; return 1; }
	if ! faultfs_mount "$TD/back" "$TD/state" "$TD/ctl" "$TD/faultfs.log" \
	    -o "powercut=$TD/images"; then
		if grep -qE 'device not found|not permitted|Permission denied' \
		    "$TD/faultfs.log"; then
			echo "crash: FUSE mounts not allowed here: skipped"
			exit 77
		fi
		fail "phase $PHASE: faultfs did not mount" \
		    "($(tail -n 2 "$TD/faultfs.log" | tr '\n' ' '))"
		return 1
	fi
	# The first cut of a phase comes before the agencies start, while
	# the replicas make the state files.  In every other phase it is
	# aimed: the replicas' directory syncs are held, and the power goes
	# while the first of them is held, so the names just made are not
	# yet durable; otherwise it comes 0-60 ms after the start.
	aim=$((RANDOM % 2))
	[ $aim -eq 0 ] || faultfs_arm "$TD/ctl" "fsyncdir hold"
	for ((i = 1; i <= CRASH_REPLICAS; i++)); do
		PORT[$i]=$(free_port)
		LIB_PORT=${PORT[$i]}	# free_port ran in a subshell
		launch "$i"
	done
	mine=$(between 1 "$CRASH_PHASE_CUTS")
	if [ $aim -eq 1 ]; then
		held=$(faultfs_held "$TD/faultfs.log" fsyncdir) ||
		    fail "phase $PHASE: no directory sync was held"
		WHERE[aimed]=$((WHERE[aimed] + 1))
		power_cut || [ -n "${CRASH_GO_ON:-}" ] || mine=0
	else
		sleep "0.$(printf %03d "$(between 0 60)")"
		power_cut || [ -n "${CRASH_GO_ON:-}" ] || mine=0
	fi
	mine=$((mine - 1))
	for ((a = 1; a <= CRASH_AGENCIES; a++)); do
		run_agency "$a"
	done
	sleep "0.$(printf %03d "$(between 20 400)")"
	while [ -n "$(running)" ] && [ "$mine" -gt 0 ] &&
	    [ $cuts -lt "$CRASH_CUTS" ]; do
		power_cut || { [ -n "${CRASH_GO_ON:-}" ] || break; }
		mine=$((mine - 1))
		sleep "0.$(printf %03d "$(between 20 400)")"
		reap
	done
	last=$(progress)
	t_last=$SECONDS
	while [ -n "$(running)" ]; do
		sleep 0.2
		reap
		now=$(progress)
		if [ "$now" != "$last" ]; then
			last=$now
			t_last=$SECONDS
		elif [ $((SECONDS - t_last)) -ge "$CRASH_STALL" ]; then
			fail "phase $PHASE: no progress for $CRASH_STALL s," \
			    "agencies $(running) still running"
			for a in $(running); do
				kill -9 "${CPID[$a]}" 2>/dev/null
				wait "${CPID[$a]}" 2>/dev/null
				STATE[$a]=stalled
			done
		fi
	done
	check_agencies
	check_rows
	check_draw
	if sanitizer_reports "$TD" >/dev/null; then
		fail "phase $PHASE: sanitizer reports in" \
		    "$(sanitizer_reports "$TD" | tr '\n' ' ')"
	fi
	lib_cleanup
}

echo "crash: seed $CRASH_SEED, $CRASH_CUTS cuts, $CRASH_REPLICAS replicas," \
    "$CRASH_AGENCIES agencies, $CRASH_BETS bets a phase, batches of" \
    "$CRASH_BATCH, $CRASH_WINDOW in flight, binaries $BIN"
start=$SECONDS
CRASH_AGENCIES_SAVED=$CRASH_AGENCIES
CRASH_AGENCIES=1
case_dirsync_fails
lib_cleanup
case_replaced
lib_cleanup
case_close_unsynced
lib_cleanup
CRASH_AGENCIES=$CRASH_AGENCIES_SAVED
while [ $cuts -lt "$CRASH_CUTS" ] &&
    { [ "$failed" -eq 0 ] || [ -n "${CRASH_GO_ON:-}" ]; }; do
	phase || break
done
echo "crash: $cuts power cuts in ${WHERE[phases]} phases, $((SECONDS - start)) s;" \
    "where they fell: ${WHERE[create]} create (${WHERE[aimed]} aimed at a" \
    "held directory sync), ${WHERE[commit]} commit," \
    "${WHERE[close]} close, ${WHERE[draw]} draw, ${WHERE[upload]} upload;" \
    "${WHERE[torn]} tore a write"
if [ "$failed" -eq 0 ] && [ -z "${CRASH_KEEP:-}" ]; then
	rm -rf "$ROOT"
else
	echo "crash: logs kept in $ROOT (seed $CRASH_SEED)"
fi
tally crash
