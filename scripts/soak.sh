#!/bin/bash
# soak.sh: a randomized fault soak on loopback.  SOAK_REPLICAS replicas
# share one state directory and SOAK_AGENCIES agencies upload generated
# data in small batches, agency i to replica (i-1) % SOAK_REPLICAS + 1,
# while a driver, at random moments, kill -9s a replica and restarts it on
# its port, kill -9s a running agency and reruns it, or freezes a replica
# (SIGSTOP for 1-3 s, then SIGCONT).  Nothing is reset during an upload.
# The run is a series of phases, each a fresh cluster and data set of
# SOAK_BETS bets, so the faults land mid-upload until SOAK_ROUNDS faults
# are spent; the last phase then finishes undisturbed.  After each phase:
# every agency exited 0 with its expected winners, bets.csv holds every bet
# exactly once, one draw was logged, and every replica stops on SIGTERM.
# SOAK_SEED seeds the choice and timing of the faults and the data (the
# interleaving with the processes is up to the scheduler); BIN picks the
# binaries.  Prints each check, the faults injected and last
# "soak: N passed, M failed"; exits 1 when any check failed.  A failed
# run's directories are kept for their logs (SOAK_KEEP=1 keeps any run's).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

SOAK_SEED=${SOAK_SEED:-$((($(date +%s) + $$) % 32768))}
SOAK_ROUNDS=${SOAK_ROUNDS:-300}
SOAK_REPLICAS=${SOAK_REPLICAS:-3}
SOAK_AGENCIES=${SOAK_AGENCIES:-5}
SOAK_BETS=${SOAK_BETS:-50000}
SOAK_BATCH=${SOAK_BATCH:-5}	# bets per batch: many requests per upload
SOAK_STALL=${SOAK_STALL:-60}	# seconds without progress that fail a phase
RANDOM=$SOAK_SEED

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
trap lib_cleanup EXIT
rounds=0
declare -A FAULT=([replica_kill]=0 [agency_kill]=0 [freeze]=0
    [agency_stopped]=0 [phases]=0)
declare -a PORT		# replica i's port
declare -A STATE	# agency id -> running, done, failed

# between LO HI: a random integer in [LO, HI].
between() {
	echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

run_agency() {
	local a=$1
	start_client "$a" "${PORT[$(((a - 1) % SOAK_REPLICAS + 1))]}" \
	    "$TD/data" CLI_BATCH_MAXAMOUNT="$SOAK_BATCH" CLI_TIMEOUT=2s
	STATE[$a]=running
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

kill_replica() {
	local i=$1 pid=${SPID[srv$1]}
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	FAULT[replica_kill]=$((FAULT[replica_kill] + 1))
	start_server "srv$i" "${PORT[$i]}" "$TD/state" "$SOAK_AGENCIES" ||
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

# fault: one round: a replica kill (42%), an agency kill (42%, a replica
# kill when no agency is running) or a freeze (16%).
fault() {
	local r=$((RANDOM % 100)) ag
	read -ra ag <<<"$(running)"
	if [ "$r" -lt 42 ] || { [ "$r" -lt 84 ] && [ ${#ag[@]} -eq 0 ]; }; then
		kill_replica "$(between 1 "$SOAK_REPLICAS")"
	elif [ "$r" -lt 84 ]; then
		kill_agency "${ag[RANDOM % ${#ag[@]}]}"
	else
		freeze_replica "$(between 1 "$SOAK_REPLICAS")"
	fi
	rounds=$((rounds + 1))
}

# check_rows: bets.csv holds every generated row once, agency prepended.
check_rows() {
	local f=$TD/state/bets.csv a want got dups extra missing
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
	echo $(($(lines "$TD/state/bets.csv") + \
	    $(lines "$TD/state/agencies_closed.txt")))
}

# mid_resumes: AgencyStatus answers of this phase that found an agency
# with part of its bets stored and not closed: uploads that a fault cut.
mid_resumes() {
	cat "$TD"/srv*.log | grep 'action: estado_agencia | result: success' |
	    grep -vc 'almacenadas: 0 |\|cerrada: 1'
}

# phase: one cluster from start to the checks; 1 when it could not start.
phase() {
	local i a last now stalled=0 t_last
	PHASE=$((FAULT[phases] + 1))
	FAULT[phases]=$PHASE
	TD=$ROOT/phase$PHASE
	mkdir -p "$TD"
	"$BIN/gendata" -o "$TD/data" -a "$SOAK_AGENCIES" -n "$SOAK_BETS" \
	    -s $((SOAK_SEED + PHASE)) >"$TD/gendata.log" 2>&1 ||
	    { fail "phase $PHASE: gendata failed"; return 1; }
	for ((i = 1; i <= SOAK_REPLICAS; i++)); do
		PORT[$i]=$(free_port)
		start_server "srv$i" "${PORT[$i]}" "$TD/state" "$SOAK_AGENCIES" ||
		    { fail "phase $PHASE: replica $i did not start"; return 1; }
	done
	for ((a = 1; a <= SOAK_AGENCIES; a++)); do
		run_agency "$a"
	done
	last=$(progress)
	t_last=$SECONDS
	while [ -n "$(running)" ]; do
		if [ $rounds -lt "$SOAK_ROUNDS" ]; then
			sleep "0.$(printf %03d "$(between 50 350)")"
			fault
		else
			sleep 0.2
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
	done
	if [ $stalled -eq 1 ]; then
		fail "phase $PHASE: no progress for $SOAK_STALL s with" \
		    "agencies $(running) running ($(lines "$TD/state/bets.csv") rows)"
		for a in $(running); do
			echo "     agency $a: $(tail -n 2 "$TD/client-$a.log" | tr '\n' ' ')"
			kill -9 "${CPID[$a]}" 2>/dev/null
			wait "${CPID[$a]}" 2>/dev/null
			STATE[$a]="stalled"
		done
	fi
	echo "     phase $PHASE: uploads over after $rounds faults in all;" \
	    "$(mid_resumes) reconnections found an agency mid-upload"
	check_agencies
	check_rows
	check_draw
	stop_replicas
	if sanitizer_reports "$TD" >/dev/null; then
		fail "phase $PHASE: sanitizer reports in $(sanitizer_reports "$TD" | tr '\n' ' ')"
	fi
	lib_cleanup
}

echo "soak: seed $SOAK_SEED, $SOAK_ROUNDS rounds, $SOAK_REPLICAS replicas," \
    "$SOAK_AGENCIES agencies, $SOAK_BETS bets a phase, batches of" \
    "$SOAK_BATCH, binaries $BIN"
start=$SECONDS
while [ $rounds -lt "$SOAK_ROUNDS" ]; do
	phase || break
done
echo "soak: ${FAULT[phases]} phases in $((SECONDS - start)) s; faults:" \
    "${FAULT[replica_kill]} replica kills, ${FAULT[agency_kill]} agency" \
    "kills, ${FAULT[freeze]} freezes; ${FAULT[agency_stopped]} agency" \
    "reruns after exit 3"
if [ $failed -eq 0 ] && [ -z "${SOAK_KEEP:-}" ]; then
	rm -rf "$ROOT"
else
	echo "soak: logs kept in $ROOT (seed $SOAK_SEED)"
fi
tally soak
