#!/bin/bash
# soak.sh: a randomized fault soak on loopback, whose faults land while
# something is in flight and are counted by what they hit.  SOAK_REPLICAS
# replicas share one state directory, mounted through faultfs
# (scripts/faultfs.c), and SOAK_AGENCIES agencies upload generated data in
# batches of SOAK_BATCH, one batch at a time, agency i to replica
# (i-1) % SOAK_REPLICAS + 1.  The run is a series of phases, each a fresh
# cluster and data set of SOAK_BETS bets, until SOAK_ROUNDS faults are
# spent; the last phase then finishes undisturbed.
#
# Faults are triggered by progress, never by the clock:
# - upload faults, SOAK_UPLOAD_FAULTS a phase (one per 1500 bets, at
#   least 4), each when bets.csv has grown past a random point of the
#   phase's bets: kill -9 the replica of an agency mid-upload (then
#   restart it on its port), kill -9 such an agency (then rerun it),
#   freeze a replica (SIGSTOP 1-3 s), or hold the next fdatasync of
#   bets.csv inside faultfs and kill -9 the replica holding it, in the
#   middle of its group commit;
# - every fdatasync of agencies_closed.txt is held inside faultfs until the
#   driver has looked at it: the phase's first close is killed there (the
#   close written, not yet synced), every later one by a coin (once per
#   agency), and so is
#   the close of the last agency (the draw); before each such kill, an
#   agency that already closed and waits for the draw is hit (or its
#   replica).
#
# Each fault is classified by what was in flight when it landed, from the
# faultfs messages, bets.csv and agencies_closed.txt and the agencies'
# processes: a held group commit, a held close, a batch (an agency of the
# target with part of its bets stored, not closed, running), a draw wait
# (an agency of the target closed and still running: waiting for the
# draw or its winners), or nothing.  A phase whose faults all hit nothing
# does not count, and the run fails when fewer than SOAK_MIN_COUNTED
# percent of the phases with faults count, when fewer than
# SOAK_FLOOR_BATCH percent (80) of the kills aimed at the upload hit a
# batch, or when fewer than SOAK_FLOOR_OTHER faults (20 per 300 rounds)
# hit each of a group commit, a close and a draw wait.
#
# After each phase: every agency exited 0 with its expected winners,
# bets.csv holds every bet exactly once, one draw was logged, and every
# replica stops on SIGTERM.  SOAK_SEED seeds the faults and the data (the
# interleaving with the processes is up to the scheduler); BIN picks the
# binaries.  Prints each check, the faults by aim and by what they hit, and
# last "soak: N passed, M failed"; exits 1 when any check failed, 77 when
# FUSE cannot be had (faultfs not built, no /dev/fuse).  A failed run's
# directories are kept for their logs (SOAK_KEEP=1 keeps any run's).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

SOAK_SEED=${SOAK_SEED:-$((($(date +%s) + $$) % 32768))}
SOAK_ROUNDS=${SOAK_ROUNDS:-300}
SOAK_REPLICAS=${SOAK_REPLICAS:-3}
SOAK_AGENCIES=${SOAK_AGENCIES:-5}
SOAK_BETS=${SOAK_BETS:-50000}
SOAK_BATCH=${SOAK_BATCH:-5}	# bets per batch: many requests per upload
# Upload faults a phase: one per 1500 bets, at least 4.
SOAK_UPLOAD_FAULTS=${SOAK_UPLOAD_FAULTS:-$((SOAK_BETS / 1500 < 4 ? 4 : \
    SOAK_BETS / 1500))}
SOAK_MIN_COUNTED=${SOAK_MIN_COUNTED:-75}	# percent of phases
SOAK_FLOOR_BATCH=${SOAK_FLOOR_BATCH:-80}	# percent of upload kills
SOAK_FLOOR_OTHER=${SOAK_FLOOR_OTHER:-$((SOAK_ROUNDS * 20 / 300))}
SOAK_STALL=${SOAK_STALL:-60}	# seconds without progress that fail a phase
RANDOM=$SOAK_SEED

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
trap lib_cleanup EXIT
rounds=0
declare -A FAULT=([replica_kill]=0 [agency_kill]=0 [freeze]=0
    [hold_kill]=0 [agency_stopped]=0 [phases]=0 [with_faults]=0
    [counted]=0 [upload_kills]=0 [upload_kills_batch]=0 [stale_hold]=0)
# What the faults were aimed at, and what they hit.
declare -A AIM=([upload]=0 [group_commit]=0 [close]=0 [draw]=0 [wait]=0)
declare -A HIT=([batch]=0 [group_commit]=0 [close]=0 [draw_wait]=0
    [nothing]=0)
declare -a PORT		# replica i's port
declare -A STATE	# agency id -> running, done, failed
declare -A STORED	# agency id -> rows in bets.csv (snapshot)
declare -A CLOSED	# agency id -> 1 when in agencies_closed.txt (snapshot)
declare -A TOTAL	# agency id -> rows in its file
declare -A CLOSE_KILLED	# agency id -> 1 once a replica died in its close

CLOSE_RULE="fdatasync hold path /agencies_closed.txt"
BETS_RULE="fdatasync hold path /bets.csv times 1"

# between LO HI: a random integer in [LO, HI].
between() {
	echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

replica_of() {
	echo $((($1 - 1) % SOAK_REPLICAS + 1))
}

# run_agency A: start agency A's client, with the protocol setting the
# agencies ship with (SOAK_PROTOCOL, auto): a client that meets a frozen
# or dying replica must never take it for a base-protocol server, which
# would resend its file without positions and store rows twice.
run_agency() {
	local a=$1
	start_client "$a" "${PORT[$(replica_of "$a")]}" "$TD/data" \
	    CLI_BATCH_MAXAMOUNT="$SOAK_BATCH" CLI_BATCH_WINDOW=1 \
	    CLI_TIMEOUT=2s CLI_RETRY_MAX=1000 \
	    CLI_PROTOCOL="${SOAK_PROTOCOL:-auto}"
	STATE[$a]=running
}

# arm: write the faults this phase has armed now (none once the rounds
# are spent).  Any change releases a held call, so only the driver's own
# handling of a hold, or the end of the faults, calls this.
arm() {
	local rules=()
	if [ $rounds -lt "$SOAK_ROUNDS" ]; then
		rules+=("$CLOSE_RULE")
		[ "$bets_armed" -eq 1 ] && rules+=("$BETS_RULE")
	fi
	faultfs_arm "$TD/ctl" "${rules[@]}"
}

# reap: note the agencies that exited by themselves.  0 is done; 3 means
# the client stopped before finishing, so it is rerun; anything else fails.
reap() {
	local a rc
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		[ "${STATE[$a]}" = running ] || continue
		kill -0 "${CPID[$a]}" 2>/dev/null && continue
		wait "${CPID[$a]}"
		rc=$?
		case $rc in
		0)	STATE[$a]=done ;;
		3)	FAULT[agency_stopped]=$((FAULT[agency_stopped] + 1))
			echo "     phase $PHASE: agency $a exited 3, rerun"
			run_agency "$a" ;;
		*)	STATE[$a]="failed (exit $rc)" ;;
		esac
	done
}

# running: the agencies still running, space-separated.
running() {
	local a out=
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		[ "${STATE[$a]}" = running ] && out="$out $a"
	done
	echo $out
}

# snapshot: each agency's rows in bets.csv and whether it closed, read
# from the backing files (not through the mount).
snapshot() {
	local a n
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		STORED[$a]=0
		CLOSED[$a]=0
	done
	while read -r a n; do
		STORED[$a]=$n
	done < <(LC_ALL=C awk -F, '{ n[$1]++ } END { for (a in n)
	    print a, n[a] }' "$TD/back/bets.csv" 2>/dev/null)
	while read -r a; do
		[ -n "$a" ] && CLOSED[$a]=1
	done <"$TD/back/agencies_closed.txt"
}

# agency_state A: what agency A had in flight at the last snapshot:
# batch, draw_wait or nothing.
agency_state() {
	local a=$1
	if [ "${STATE[$a]}" != running ] || ! kill -0 "${CPID[$a]}" 2>/dev/null
	then
		echo nothing
	elif [ "${CLOSED[$a]}" = 1 ]; then
		echo draw_wait
	elif [ "${STORED[$a]}" -gt 0 ] && [ "${STORED[$a]}" -lt "${TOTAL[$a]}" ]
	then
		echo batch
	else
		echo nothing
	fi
}

# replica_state I: the same for the agencies replica I serves (a batch
# before a draw wait).
replica_state() {
	local a st out=nothing
	for ((a = $1; a <= SOAK_AGENCIES; a += SOAK_REPLICAS)); do
		st=$(agency_state "$a")
		[ "$st" = batch ] && { echo batch; return; }
		[ "$st" = draw_wait ] && out=draw_wait
	done
	echo $out
}

# mid_agencies: the running agencies mid-upload at the last snapshot.
mid_agencies() {
	local a out=
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		[ "$(agency_state "$a")" = batch ] && out="$out $a"
	done
	echo $out
}

# count AIM HIT WHAT: one fault injected, aimed at AIM, that hit HIT.
count() {
	AIM[$1]=$((AIM[$1] + 1))
	HIT[$2]=$((HIT[$2] + 1))
	phase_faults=$((phase_faults + 1))
	[ "$2" != nothing ] && phase_hits=$((phase_hits + 1))
	rounds=$((rounds + 1))
	echo "     phase $PHASE: $3 (aimed at $1, hit $2)"
}

# held_by PID: 0 when a thread of process PID is in a call faultfs holds.
held_by() {
	local hold tid
	while read -r hold tid; do
		[ -d "/proc/$1/task/$tid" ] || continue
		grep -qF ": released (hold $hold)" "$TD/faultfs.log" || return 0
	done < <(sed -n 's/.*: held (hold \([0-9]*\),.*pid \([0-9]*\)).*/\1 \2/p' \
	    "$TD/faultfs.log")
	return 1
}

# in_kernel PID: 0 when a thread of process PID sleeps in the kernel
# (state D).  A killed replica's sync can wait there for the file's inode
# lock, behind another replica's sync of that file that faultfs holds:
# only letting the holds go lets it die.
in_kernel() {
	cat /proc/"$1"/task/*/stat 2>/dev/null | awk '$3 == "D" { d = 1 }
	    END { exit !d }'
}

# dead PID: 0 when every thread of process PID has exited.
dead() {
	[ ! -d "/proc/$1" ] ||
	    { grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null &&
	    [ "$(ls "/proc/$1/task" 2>/dev/null | wc -l)" -le 1 ]; }
}

# kill_replica I [RELEASE]: kill -9 replica I and restart it on its port.
# A thread in a call faultfs has taken dies only once the call returns:
# the holds are let go (at once with RELEASE, the replica was killed
# for its hold) whenever one of its threads is found held, which may
# also be a call the driver has not looked at yet.
kill_replica() {
	local i=$1 pid=${SPID[srv$1]} t0=$SECONDS
	# bash reports the job as "Killed" when it reaps it: not news here.
	{
		kill -9 "$pid"
		[ -n "${2:-}" ] && arm
		until dead "$pid"; do
			{ held_by "$pid" || in_kernel "$pid"; } && arm
			# Never wait for good: a replica that cannot die
			# fails the phase, and the run goes on.
			if [ $((SECONDS - t0)) -ge 120 ]; then
				fail "phase $PHASE: replica $i not dead 120 s" \
				    "after kill -9"
				break
			fi
			sleep 0.02
		done
		dead "$pid" && wait "$pid"
	} 2>/dev/null
	FAULT[replica_kill]=$((FAULT[replica_kill] + 1))
	start_server "srv$i" "${PORT[$i]}" "$TD/mnt" "$SOAK_AGENCIES" ||
	    fail "phase $PHASE: replica $i did not restart on port" \
	    "${PORT[$i]} ($(tail -n 2 "$TD/srv$i.log" | tr '\n' ' '))"
}

kill_agency() {
	local a=$1
	kill -9 "${CPID[$a]}" 2>/dev/null
	wait "${CPID[$a]}" 2>/dev/null
	FAULT[agency_kill]=$((FAULT[agency_kill] + 1))
	run_agency "$a"
}

freeze_replica() {
	local pid=${SPID[srv$1]} t
	t=$(between 1 3)
	kill -STOP "$pid"
	sleep "$t"
	kill -CONT "$pid"
	FAULT[freeze]=$((FAULT[freeze] + 1))
}

# holder TID: the replica whose thread TID is, or nothing.
holder() {
	local i
	for ((i = 1; i <= SOAK_REPLICAS; i++)); do
		[ -d "/proc/${SPID[srv$i]}/task/$1" ] && { echo $i; return; }
	done
}

# upload_fault: bets.csv has passed this fault's point: hit a replica or
# an agency with a batch in flight, or arm the group commit hold.
upload_fault() {
	local r=$((RANDOM % 100)) mid i a
	snapshot
	read -ra mid <<<"$(mid_agencies)"
	if [ ${#mid[@]} -eq 0 ]; then
		echo "     phase $PHASE: no agency mid-upload at" \
		    "$(lines "$TD/back/bets.csv") rows: upload fault skipped"
		return
	fi
	a=${mid[RANDOM % ${#mid[@]}]}
	i=$(replica_of "$a")
	if [ $r -lt 25 ]; then
		bets_armed=1
		arm
	elif [ $r -lt 55 ]; then
		upload_kill "$(replica_state "$i")" "replica $i killed"
		kill_replica "$i"
	elif [ $r -lt 85 ]; then
		upload_kill "$(agency_state "$a")" "agency $a killed"
		kill_agency "$a"
	else
		count upload "$(replica_state "$i")" "replica $i frozen"
		freeze_replica "$i"
	fi
}

# upload_kill HIT WHAT: a kill aimed at the upload, counted as such too.
upload_kill() {
	FAULT[upload_kills]=$((FAULT[upload_kills] + 1))
	[ "$1" = batch ] && FAULT[upload_kills_batch]=$((FAULT[upload_kills_batch] + 1))
	count upload "$1" "$2"
}

# wait_fault HOLDER CLOSING: a close (of agency CLOSING) is held on
# replica HOLDER, and the agencies that closed before it wait for the
# draw: hit one of them, or its replica when that is not the holder.
wait_fault() {
	local a cand=() i
	for a in $(running); do
		[ "${CLOSED[$a]}" = 1 ] && [ "$a" != "$2" ] && cand+=("$a")
	done
	[ ${#cand[@]} -gt 0 ] || return
	a=${cand[RANDOM % ${#cand[@]}]}
	i=$(replica_of "$a")
	if [ "$i" != "$1" ] && [ $((RANDOM % 2)) -eq 0 ]; then
		count wait "$(replica_state "$i")" "replica $i killed"
		kill_replica "$i"
	else
		count wait "$(agency_state "$a")" "agency $a killed"
		kill_agency "$a"
	fi
}

# stale_hold: a hold already looked at and still held 10 s later, with
# nothing logged since, is let go and counted.  Every branch of holds
# lets its hold go, so this only happens when a hold slipped past them
# (a full soak once stalled 60 s on one, the lock on agencies_closed.txt
# held meanwhile); the count says how often.
stale_hold() {
	[ $((SECONDS - seen_at)) -ge 10 ] || return
	tail -n 1 "$TD/faultfs.log" | grep -q ': held (hold ' || return
	FAULT[stale_hold]=$((FAULT[stale_hold] + 1))
	echo "     phase $PHASE: $(tail -n 1 "$TD/faultfs.log" |
	    sed 's/^faultfs: //'): not taken by any fault, let go"
	arm
}

# holds: act on the calls faultfs holds now.  A hold whose "released"
# line is already there was let go by a rewrite of the rules (it came in
# just before one) and is passed over.
holds() {
	local line path hold tid i n new st a
	n=$(lines "$TD/faultfs.log")
	if [ "$n" -le "$log_seen" ]; then
		stale_hold
		return
	fi
	mapfile -t new < <(tail -n +$((log_seen + 1)) "$TD/faultfs.log" |
	    head -n $((n - log_seen)))
	log_seen=$n
	seen_at=$SECONDS
	for line in "${new[@]}"; do
		[[ $line =~ ^faultfs:\ [a-z]+\ ([^:]+):\ held\ \(hold\ ([0-9]+),.*pid\ ([0-9]+)\) ]] ||
		    continue
		path=${BASH_REMATCH[1]} hold=${BASH_REMATCH[2]}
		tid=${BASH_REMATCH[3]}
		grep -qF ": released (hold $hold)" "$TD/faultfs.log" && continue
		i=$(holder "$tid")
		if [ -z "$i" ]; then
			arm		# its replica died meanwhile
			continue
		fi
		snapshot
		if [ "$path" = /bets.csv ]; then
			# A status request syncs bets.csv too: a group commit
			# only while the replica has an upload going.
			bets_armed=0
			st=$(replica_state "$i")
			[ "$st" = batch ] && st=group_commit
			count group_commit "$st" \
			    "replica $i killed in a sync of bets.csv"
			FAULT[hold_kill]=$((FAULT[hold_kill] + 1))
			kill_replica "$i" release
		elif [ $rounds -ge "$SOAK_ROUNDS" ]; then
			arm
		elif [ "$draw_hit" -eq 0 ] &&
		    [ "$(lines "$TD/back/agencies_closed.txt")" -eq \
		    "$SOAK_AGENCIES" ]; then
			draw_hit=1
			draw_agency=$(tail -n 1 "$TD/back/agencies_closed.txt")
			wait_fault "$i" "$draw_agency"
			count draw close "replica $i killed in the draw's close"
			FAULT[hold_kill]=$((FAULT[hold_kill] + 1))
			kill_replica "$i" release
		elif a=$(tail -n 1 "$TD/back/agencies_closed.txt") &&
		    [ -z "${CLOSE_KILLED[$a]:-}" ] &&
		    { [ "$close_hit" -eq 0 ] || [ $((RANDOM % 2)) -eq 0 ]; }; then
			# The first close, and every other one by a coin, once
			# per agency: the agencies already closed wait for the
			# draw meanwhile.
			close_hit=1
			CLOSE_KILLED[$a]=1
			wait_fault "$i" "$a"
			count close close "replica $i killed in a close's sync"
			FAULT[hold_kill]=$((FAULT[hold_kill] + 1))
			kill_replica "$i" release
		else
			arm		# a close let through
		fi
	done
}

# check_rows: bets.csv holds every generated row once, agency prepended.
check_rows() {
	local f=$TD/back/bets.csv a want got dups extra missing
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		sed "s/^/$a,/" "$TD/data/agency-$a.csv"
	done | LC_ALL=C sort >"$TD/want.sorted"
	LC_ALL=C sort "$f" 2>/dev/null >"$TD/got.sorted"
	want=$(lines "$TD/want.sorted")
	got=$(lines "$TD/got.sorted")
	if cmp -s "$TD/want.sorted" "$TD/got.sorted"; then
		pass "phase $PHASE: bets.csv holds each of the $want bets once"
		return
	fi
	dups=$(uniq -d "$TD/got.sorted" | wc -l)
	missing=$(LC_ALL=C comm -23 "$TD/want.sorted" "$TD/got.sorted" | wc -l)
	extra=$(LC_ALL=C comm -13 "$TD/want.sorted" "$TD/got.sorted" | wc -l)
	fail "phase $PHASE: bets.csv has $got rows, want $want:" \
	    "$missing missing, $extra extra ($dups rows twice); first extra:" \
	    "$(LC_ALL=C comm -13 "$TD/want.sorted" "$TD/got.sorted" |
	    head -n 2 | tr '\r\n' '  ')"
}

check_agencies() {
	local a want k
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		want=$(awk -v a="$a" '$1 == a { print $3 }' "$TD/data/expected.txt")
		k=$(grep -o 'cant_ganadores: [0-9]*' "$TD/client-$a.log" |
		    tail -n 1 | cut -d' ' -f2)
		if [ "${STATE[$a]}" = done ] && [ "$k" = "$want" ]; then
			pass "phase $PHASE: agency $a exited 0 with its $want winners"
		else
			fail "phase $PHASE: agency $a: ${STATE[$a]}," \
			    "cant_ganadores '$k', want $want" \
			    "($(tail -n 2 "$TD/client-$a.log" | tr '\n' ' '))"
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

# stop_replicas: SIGTERM each replica; each must exit 0 within 5 s.
stop_replicas() {
	local i rc
	for ((i = 1; i <= SOAK_REPLICAS; i++)); do
		kill -CONT "${SPID[srv$i]}" 2>/dev/null
		kill -TERM "${SPID[srv$i]}" 2>/dev/null
	done
	for ((i = 1; i <= SOAK_REPLICAS; i++)); do
		wait_pid "${SPID[srv$i]}" 5
		rc=$?
		if [ $rc -eq 0 ]; then
			pass "phase $PHASE: replica $i exited 0 on SIGTERM"
		else
			fail "phase $PHASE: replica $i on SIGTERM: exit $rc" \
			    "(124: still running after 5 s)"
		fi
	done
}

# progress: a number that grows while the phase gets anywhere.
progress() {
	echo $(($(lines "$TD/back/bets.csv") + \
	    $(lines "$TD/back/agencies_closed.txt")))
}

# points: SOAK_UPLOAD_FAULTS row counts in [1, 9/10 of the bets], sorted:
# where the upload faults land.
points() {
	local k
	for ((k = 0; k < SOAK_UPLOAD_FAULTS; k++)); do
		between 1 $((SOAK_BETS * 9 / 10))
	done | sort -n | tr '\n' ' '
}

# phase: one cluster from start to the checks; 1 when it could not start.
phase() {
	local i a last now stalled=0 t_last pts next=0
	PHASE=$((FAULT[phases] + 1))
	FAULT[phases]=$PHASE
	TD=$ROOT/phase$PHASE
	mkdir -p "$TD"
	phase_faults=0 phase_hits=0 bets_armed=0 close_hit=0 draw_hit=0
	CLOSE_KILLED=()
	draw_agency= log_seen=0 armed_off=0 seen_at=$SECONDS
	"$BIN/gendata" -o "$TD/data" -a "$SOAK_AGENCIES" -n "$SOAK_BETS" \
	    -s $((SOAK_SEED + PHASE)) >"$TD/gendata.log" 2>&1 ||
	    { fail "phase $PHASE: gendata failed"; return 1; }
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		TOTAL[$a]=$(lines "$TD/data/agency-$a.csv")
	done
	faultfs_mount "$TD/back" "$TD/mnt" "$TD/ctl" "$TD/faultfs.log" ||
	    { fail "phase $PHASE: faultfs did not mount" \
	    "($(tail -n 2 "$TD/faultfs.log" | tr '\n' ' '))"; return 1; }
	arm
	for ((i = 1; i <= SOAK_REPLICAS; i++)); do
		PORT[$i]=$(free_port)
		start_server "srv$i" "${PORT[$i]}" "$TD/mnt" "$SOAK_AGENCIES" ||
		    { fail "phase $PHASE: replica $i did not start"; return 1; }
	done
	read -ra pts <<<"$(points)"
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		run_agency "$a"
	done
	last=$(progress)
	t_last=$SECONDS
	while [ -n "$(running)" ]; do
		holds
		if [ $rounds -lt "$SOAK_ROUNDS" ] && [ $next -lt ${#pts[@]} ] &&
		    [ "$bets_armed" -eq 0 ] &&
		    [ "$(lines "$TD/back/bets.csv")" -ge "${pts[next]}" ]; then
			next=$((next + 1))
			upload_fault
		fi
		if [ $rounds -ge "$SOAK_ROUNDS" ] && [ "$armed_off" -eq 0 ]; then
			armed_off=1
			bets_armed=0
			arm
		fi
		reap
		now=$(progress)
		if [ "$now" != "$last" ]; then
			last=$now
			t_last=$SECONDS
		elif [ $((SECONDS - t_last)) -ge "$SOAK_STALL" ]; then
			stalled=1
			break
		fi
		sleep 0.05
	done
	faultfs_arm "$TD/ctl"
	if [ $stalled -eq 1 ]; then
		fail "phase $PHASE: no progress for $SOAK_STALL s with" \
		    "agencies $(running) running ($(lines "$TD/back/bets.csv") rows)"
		for a in $(running); do
			echo "     agency $a: $(tail -n 2 "$TD/client-$a.log" | tr '\n' ' ')"
			kill -9 "${CPID[$a]}" 2>/dev/null
			wait "${CPID[$a]}" 2>/dev/null
			STATE[$a]="stalled"
		done
	fi
	if [ $phase_faults -gt 0 ]; then
		FAULT[with_faults]=$((FAULT[with_faults] + 1))
		[ $phase_hits -gt 0 ] && FAULT[counted]=$((FAULT[counted] + 1))
	fi
	echo "     phase $PHASE: uploads over after $rounds faults in all;" \
	    "$phase_hits of this phase's $phase_faults faults hit something" \
	    "in flight"
	check_agencies
	check_rows
	check_draw
	stop_replicas
	if sanitizer_reports "$TD" >/dev/null; then
		fail "phase $PHASE: sanitizer reports in $(sanitizer_reports "$TD" | tr '\n' ' ')"
	fi
	lib_cleanup
}

# counted: enough phases had a fault that hit something in flight.
counted() {
	local w=${FAULT[with_faults]} c=${FAULT[counted]}
	if [ "$w" -gt 0 ] && [ $((c * 100)) -ge $((w * SOAK_MIN_COUNTED)) ]; then
		pass "$c of the $w phases with faults had one hit something" \
		    "in flight (at least $SOAK_MIN_COUNTED% must)"
	else
		fail "only $c of the $w phases with faults had one hit" \
		    "something in flight (at least $SOAK_MIN_COUNTED% must)"
	fi
}

# floor: the kills aimed at the upload hit a batch in flight at least
# SOAK_FLOOR_BATCH percent of the time, and each other kind (a group
# commit, a close, a draw wait) was hit at least SOAK_FLOOR_OTHER times
# (20 in a full run of 300 rounds, as many for each 300 rounds in
# others).  Below either, the run fails and names the shortfall.
floor() {
	local k=${FAULT[upload_kills]} b=${FAULT[upload_kills_batch]} kind
	if [ $((b * 100)) -ge $((k * SOAK_FLOOR_BATCH)) ] && [ "$k" -gt 0 ]; then
		pass "$b of the $k kills aimed at the upload hit a batch in" \
		    "flight (at least $SOAK_FLOOR_BATCH% must)"
	else
		fail "only $b of the $k kills aimed at the upload hit a batch" \
		    "in flight (at least $SOAK_FLOOR_BATCH% must)"
	fi
	for kind in group_commit close draw_wait; do
		if [ "${HIT[$kind]}" -ge "$SOAK_FLOOR_OTHER" ]; then
			pass "${HIT[$kind]} faults hit a $kind in flight" \
			    "(at least $SOAK_FLOOR_OTHER must)"
		else
			fail "only ${HIT[$kind]} faults hit a $kind in flight" \
			    "(at least $SOAK_FLOOR_OTHER must)"
		fi
	done
}

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null ||
    ! tool faultfs >/dev/null; then
	echo "soak: no /dev/fuse, fusermount3 or faultfs here: not run"
	exit 77
fi
echo "soak: seed $SOAK_SEED, $SOAK_ROUNDS rounds, $SOAK_REPLICAS replicas," \
    "$SOAK_AGENCIES agencies, $SOAK_BETS bets a phase, batches of" \
    "$SOAK_BATCH one at a time, $SOAK_UPLOAD_FAULTS upload faults a" \
    "phase, binaries $BIN"
start=$SECONDS
while [ $rounds -lt "$SOAK_ROUNDS" ]; do
	phase || break
done
counted
floor
echo "soak: ${FAULT[phases]} phases in $((SECONDS - start)) s; faults:" \
    "${FAULT[replica_kill]} replica kills (${FAULT[hold_kill]} inside a" \
    "held sync), ${FAULT[agency_kill]} agency kills, ${FAULT[freeze]}" \
    "freezes; ${FAULT[agency_stopped]} agency reruns after exit 3;" \
    "${FAULT[stale_hold]} holds let go untaken"
echo "soak: aimed at: upload ${AIM[upload]}, group commit" \
    "${AIM[group_commit]}, close ${AIM[close]}, draw ${AIM[draw]}," \
    "draw wait ${AIM[wait]}"
echo "soak: in flight when they landed: batch ${HIT[batch]}, group commit" \
    "${HIT[group_commit]}, close ${HIT[close]}, draw wait" \
    "${HIT[draw_wait]}, nothing ${HIT[nothing]}"
if [ $failed -eq 0 ] && [ -z "${SOAK_KEEP:-}" ]; then
	rm -rf "$ROOT"
else
	echo "soak: logs kept in $ROOT (seed $SOAK_SEED)"
fi
tally soak
