#!/bin/bash
# host_test.sh: end-to-end tests of the real server and client binaries on
# loopback: a replica cluster, crashes (kill -9) of replicas and clients,
# lost replies, idle and malformed connections, bad agency files, signals
# and config errors.  Each test runs in a subshell with its own directory
# and a trap that kills every process it started; one failing test does not
# stop the others.  BIN picks the binaries (default build/bin); test names
# as arguments run only those.  Prints "PASS name" / "FAIL name: why" and
# last "host: N passed, M failed"; exits 1 when any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/host_test.XXXXXX")
SEED=${SEED:-$RANDOM}	# data seed; set SEED to replay a run
TESTS="cluster metrics metrics_conns monitor replica_kill pipeline_kill wait_woken durability lost_reply client_kill idle malformed
bad_rows shutdown config agency_close single_bet conn_cap disk_full
bounded_memory stop_while_waiting reset_regrow file_replaced
agencies_meta frozen_lock fs_cluster fs_eio fs_write_eio fs_estale
fs_enotconn fs_enospc_only_truncates tail_not_cut fd_limit fd_exhaustion
echo_hold peer_cap close_no_reply winners_pages stop_frozen_peer
rotation retry_max bad_reply refused_status many_winners nul_row
close_race draw_kill draw_again dup_sync ctl base_fallback base_strict
protocol_setting progress auth_forged auth_replay auth_wrong_key auth_key_file
auth_cluster auth_off auth_refused auth_forger_other_agency auto_full_start
number_zeros closed_moved proof_no_work many_agencies many_waiters
unauth_flood more_agencies_than_slots stop_loaded stop_waiters"

bad() {
	echo "$*" >>"$TD/.fail"
}

# gen AGENCIES BETS: agency files and expected.txt in $TD/data.
gen() {
	"$BIN/gendata" -o "$TD/data" -a "$1" -n "$2" -s "$SEED" \
	    >"$TD/gendata.log" 2>&1 || bad "gendata failed"
}

# expected AGENCY FIELD: column FIELD (2 bets, 3 winners, 4 docs).
expected() {
	awk -v a="$1" -v f="$2" '$1 == a { print $f }' "$TD/data/expected.txt"
}

# wait_log FILE REGEX SECONDS
wait_log() {
	local n=$(($3 * 10))
	until grep -qE "$2" "$1" 2>/dev/null; do
		[ $n -le 0 ] && return 1
		sleep 0.1
		n=$((n - 1))
	done
}

# wait_clients SECONDS ID...: every client must exit 0 in time.
wait_clients() {
	local t=$1 id rc
	shift
	for id in "$@"; do
		wait_pid "${CPID[$id]}" "$t"
		rc=$?
		[ $rc -eq 0 ] || bad "client $id exited $rc" \
		    "($(tail -n 2 "$TD/client-$id.log" | tr '\r\n' '  '))"
	done
}

# check_store AGENCIES: bets.csv holds every row of every agency file
# exactly once, with the agency prepended, in file order per agency, each
# line CRLF-terminated with 6 fields and no document twice.
check_store() {
	local f=$TD/state/bets.csv d=$TD/data a total=0 want got line
	[ -f "$f" ] || { bad "no bets.csv"; return; }
	for ((a = 1; a <= $1; a++)); do
		total=$((total + $(lines "$d/agency-$a.csv")))
	done
	got=$(lines "$f")
	[ "$got" -eq $total ] || bad "bets.csv has $got lines, want $total"
	line=$(csv_check "$f") || bad "bets.csv line $line is torn or not CRLF"
	want=$(cut -d, -f4 "$f" | LC_ALL=C sort | uniq -d | head -n 3 | tr '\n' ' ')
	[ -z "$want" ] || bad "documents stored twice: $want"
	for ((a = 1; a <= $1; a++)); do
		sed "s/^/$a,/" "$d/agency-$a.csv"
	done | LC_ALL=C sort >"$TD/want.sorted"
	LC_ALL=C sort "$f" >"$TD/got.sorted"
	cmp -s "$TD/want.sorted" "$TD/got.sorted" ||
	    bad "bets.csv rows differ from the agency files as a multiset" \
	    "($(LC_ALL=C comm -3 "$TD/want.sorted" "$TD/got.sorted" | wc -l) rows)"
	for ((a = 1; a <= $1; a++)); do
		LC_ALL=C grep "^$a," "$f" | cut -d, -f2- |
		    cmp -s - "$d/agency-$a.csv" ||
		    bad "agency $a rows not stored in file order"
	done
}

# check_winners PORT AGENCIES: each client logged its expected winner count
# and WinnersRequest returns the expected documents in file order.
check_winners() {
	local port=$1 a k want docs
	for ((a = 1; a <= $2; a++)); do
		want=$(expected $a 3)
		k=$(grep -o 'cant_ganadores: [0-9]*' "$TD/client-$a.log" |
		    tail -n 1 | cut -d' ' -f2)
		[ "$k" = "$want" ] || bad "agency $a cant_ganadores '$k', want $want"
		docs=$(expected $a 4)
		[ "$docs" = - ] && docs=
		want="WinnersResponse:$docs"
		k=$(as_agency "$port" $a send "WinnersRequest:$a")
		[ "$k" = "$want" ] || bad "agency $a: '$k', want '$want'"
	done
}

# mid_upload PORT AGENCY: 0 when the agency has stored part of its file
# and not closed yet, so a crash now really lands mid-upload.
mid_upload() {
	local r
	r=$(req "$1" "AgencyStatus:$2")
	r=${r#AgencyStatusResponse:}
	[ "${r#*;}" = 0 ] && [ "${r%;*}" -gt 0 ] &&
	    [ "${r%;*}" -lt "$(expected "$2" 2)" ]
}

# mid_upload_file AGENCY: mid_upload read from the files behind a faultfs
# mount ($TD/back), for when no replica can answer.
mid_upload_file() {
	local n
	n=$(LC_ALL=C grep -c "^$1," "$TD/back/bets.csv")
	[ "$n" -gt 0 ] && [ "$n" -lt "$(expected "$1" 2)" ] &&
	    ! grep -qx "$1" "$TD/back/agencies_closed.txt" 2>/dev/null
}

# sorteo_once: exactly one draw logged across every replica log.
sorteo_once() {
	local n
	n=$(cat "$TD"/srv*.log | grep -c 'action: sorteo | result: success')
	[ "$n" -eq 1 ] || bad "$n sorteo lines across replicas, want 1"
}

# replicas N AGENCIES [VAR=value...]: start srv1..srvN on one state dir;
# their ports go in PORT[1..N].
declare -a PORT
replicas() {
	local n=$1 ag=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		PORT[$i]=$(free_port)
		start_server srv$i "${PORT[$i]}" "$TD/state" "$ag" "$@" ||
		    bad "replica $i did not start ($(tail -n 2 "$TD/srv$i.log"))"
	done
}

# ---- the event loop: many connections, admission, the draw's watcher ----

# agencies_yaml N PORT [KEYED]: client-1..N.yaml in $TD for benchrun, small
# batches, every agency against 127.0.0.1:PORT (KEYED: with its key file).
agencies_yaml() {
	local n=$1 port=$2 a
	for ((a = 1; a <= n; a++)); do
		client_conf "$TD/client-$a.yaml" $a "127.0.0.1:$port" "$TD/data"
		[ -n "${3:-}" ] &&
		    echo "key_file: $KEYS/agency-$a.key" >>"$TD/client-$a.yaml"
	done
}

# run_agencies N SECONDS: benchrun starts client-1..N at once and reaps
# them (no shell per client); every agency must exit 0 in time.
run_agencies() {
	local n=$1 rc
	timeout "$2" "$BIN/benchrun" "$BIN/client" "$TD" "$n" \
	    >"$TD/benchrun.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || bad "benchrun exited $rc:" \
	    "$(awk 'NF == 4 && $2 != 0' "$TD/benchrun.out" | head -n 3 |
	    tr '\n' ' ')"
}

# wait_count FILE REGEX N SECONDS: FILE holds at least N lines matching.
wait_count() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(grep -cE "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# The last close is written by another process, which replaces
# agencies_closed.txt (a copy moved over it, as an operator or a tool
# would).  A parked waiter must see the draw in the new file: the watcher
# reopens the path the way every other store operation does.
t_closed_moved() {
	local r w st
	gen 2 40
	replicas 1 2 LOGGING_LEVEL=DEBUG
	st=$TD/state
	r=$(req "${PORT[1]}" "$(batch_of 1 0 $(expected 1 2))")
	[ "$r" = StoreResponse:0 ] || bad "agency 1's batch: '$r'"
	r=$(req "${PORT[1]}" "$(batch_of 2 0 $(expected 2 2))")
	[ "$r" = StoreResponse:0 ] || bad "agency 2's batch: '$r'"
	send_only "${PORT[1]}" AgencyClose:1 || bad "agency 1's close"
	wait_log "$TD/srv1.log" 'agencia_cerrada \| result: success \| agencia: 1' 10 ||
	    bad "agency 1's close not logged"
	# The wait is the longest the protocol allows; the tool gives up
	# after half of it.  A replica that missed the draw answers only when
	# the wait ends (its last look reopens the file): far too late.
	ctl -t 30 -a "127.0.0.1:${PORT[1]}" send "WinnersWait:2:0:60000" \
	    >"$TD/waiter.out" 2>&1 &
	w=$!
	# Parked (logged at DEBUG) before the file is replaced.
	wait_log "$TD/srv1.log" 'consulta_ganadores \| result: in_progress \| agencia: 2 \| espera_ms: 60000' 10 ||
	    bad "the waiter was not parked"
	cp "$st/agencies_closed.txt" "$st/closed.new"
	echo 2 >>"$st/closed.new"
	mv "$st/closed.new" "$st/agencies_closed.txt"
	wait "$w" || bad "the waiter failed ($(cat "$TD/waiter.out"))"
	r=$(cat "$TD/waiter.out")
	[ "${r%%;*}" = "WinnersPageResponse:$(expected 2 3)" ] ||
	    bad "the waiter got '$r', want the page of $(expected 2 3) winners"
}

# A refused AuthProof (no AuthHello before it) does no work: a peer
# sending only those is cut at CONN_TIMEOUT like an idle one.
t_proof_no_work() {
	local out
	replicas 1 5 CONN_TIMEOUT=1s
	out=$(ctl -t 5 -a "127.0.0.1:${PORT[1]}" -w 0.3 send \
	    $(printf 'AuthProof:%064d ' $(seq 12)))
	[ "$(echo "$out" | tail -n 1)" = "<closed>" ] ||
	    bad "12 refused proofs over 3.6 s kept the connection open"
	[ "$(echo "$out" | grep -c '^StoreResponse:1$')" -ge 1 ] ||
	    bad "the proofs were not refused ($(echo "$out" | head -n 1))"
	wait_log "$TD/srv1.log" 'motivo: idle timeout' 5 ||
	    bad "no idle timeout logged"
}

# check_store_many AGENCIES: what check_store checks, in a few processes
# instead of a few per agency: bets.csv, stably sorted by agency, is every
# agency file in turn with its agency prepended (so every row once, in
# file order per agency), and no document is stored twice.
check_store_many() {
	local f=$TD/state/bets.csv line want
	line=$(csv_check "$f") || bad "bets.csv line $line is torn or not CRLF"
	want=$(cut -d, -f4 "$f" | LC_ALL=C sort | uniq -d | head -n 3 | tr '\n' ' ')
	[ -z "$want" ] || bad "documents stored twice: $want"
	awk -v n="$1" -v d="$TD/data" 'BEGIN {
		for (a = 1; a <= n; a++) {
			f = d "/agency-" a ".csv"
			while ((getline l < f) > 0)
				print a "," l
			close(f)
		}
	}' >"$TD/want.rows"
	LC_ALL=C sort -s -t, -k1,1n "$f" | cmp -s - "$TD/want.rows" ||
	    bad "bets.csv differs from the agency files" \
	    "($(lines "$f") rows, want $(lines "$TD/want.rows"))"
}

# 2,000 agencies on one replica, a few bets each, all started at once.
t_many_agencies() {
	local t0 t1
	gen 2000 8000
	replicas 1 2000 MAX_CONNECTIONS=16384 MAX_CONNECTIONS_PER_PEER=16384 \
	    SERVER_LISTEN_BACKLOG=4096
	agencies_yaml 2000 "${PORT[1]}"
	t0=$(date +%s%N)
	run_agencies 2000 600
	t1=$(date +%s%N)
	echo "many_agencies: 2000 agencies in $(((t1 - t0) / 1000000)) ms" \
	    >>"$ROOT/figures"
	check_store_many 2000
	sorteo_once
}

# 10,000 connections wait for the draw while 5 agencies upload and close:
# every waiter gets its page after the last close.
t_many_waiters() {
	local w a r pid
	gen 5 2000
	replicas 1 5 MAX_CONNECTIONS=16384 MAX_CONNECTIONS_PER_PEER=64
	pid=${SPID[srv1]}
	"$(tool lotteryctl)" -t 60 -a "127.0.0.1:${PORT[1]}" waiters 10000 5 60 \
	    >"$TD/waiters.out" 2>"$TD/waiters.err" &
	w=$!
	PIDS+=($w)
	wait_log "$TD/waiters.out" '^sent 10000' 120 ||
	    bad "the waiters were not all sent ($(cat "$TD/waiters.err"))"
	# Each sent its WinnersWait; none can be answered before the draw.
	r=$(req "${PORT[1]}" AgencyStatus:1)
	[ "$r" = "AgencyStatusResponse:0;0" ] || bad "before the upload: '$r'"
	grep -q '^pages' "$TD/waiters.out" && bad "waiters answered early"
	echo "many_waiters: VmHWM before the agencies $(awk '/VmHWM/ { print $2 }' \
	    "/proc/$pid/status") kB" >>"$ROOT/figures"
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[1]}" "$TD/data"
	done
	wait_clients 120 1 2 3 4 5
	wait "$w" || bad "waiters: $(cat "$TD/waiters.out" | tail -n 1)"
	r=$(tail -n 1 "$TD/waiters.out")
	case $r in
	"pages: 10000 | not_ready: 0 | busy: 0 | other: 0 | closed: 0 | unanswered: 0 "*) ;;
	*) bad "waiters: '$r'" ;;
	esac
	echo "many_waiters: $r; VmHWM $(awk '/VmHWM/ { print $2 }' \
	    "/proc/$pid/status") kB" >>"$ROOT/figures"
	check_store 5
	sorteo_once
}

# unflood SRC PORT: a peer without a key on SRC, until killed: it holds
# connections and reopens them, sends AuthProof keep-alives without a
# hello, and floods AuthHello.
unflood() {
	local src=$1 port=$2 t
	t=$(tool lotteryctl)
	while :; do
		"$t" -t 2 -b "$src" -a "127.0.0.1:$port" hold 1 50 &
		"$t" -t 2 -b "$src" -a "127.0.0.1:$port" -w 0.2 send \
		    $(printf 'AuthProof:%064d ' $(seq 20)) &
		"$t" -t 2 -b "$src" -a "127.0.0.1:$port" flood 1 AuthHello:1 &
		wait
	done >/dev/null 2>&1
}

# Peers without a key on 4 addresses hold, reopen and flood while the 5
# agencies with keys upload and close: every agency finishes exactly.
t_unauth_flood() {
	local i pids=()
	gen 5 5000
	auth_keys 5
	replicas 1 5 AGENCY_KEYS="$KEYS/agencies.keys" MAX_CONNECTIONS=256
	for i in 2 3 4 5; do
		unflood 127.0.0.$i "${PORT[1]}" &
		pids+=($!)
		PIDS+=($!)
	done
	# The flood is on: connections from every flooder were evicted or cut.
	wait_count "$TD/srv1.log" 'peer: 127\.0\.0\.[2-5]/' 200 30 ||
	    bad "the flood did not reach the replica"
	for i in 1 2 3 4 5; do
		start_client $i "${PORT[1]}" "$TD/data" \
		    CLI_KEY_FILE="$KEYS/agency-$i.key"
	done
	wait_clients 120 1 2 3 4 5
	for i in "${pids[@]}"; do
		pkill -P "$i" 2>/dev/null
		kill "$i" 2>/dev/null
	done
	check_store 5
	sorteo_once
	grep -q 'motivo: no AuthHello before AuthProof' "$TD/srv1.log" ||
	    bad "no keep-alive AuthProof was refused"
	grep -qE 'peer: 127\.0\.0\.[2-5]/[0-9]+ \| motivo: (no handshake in time|too many unauthenticated)' \
	    "$TD/srv1.log" || bad "no flooder was evicted or timed out"
}

# More agencies than connections: the waiters for the draw make room for
# the agencies that still upload (MAX_CONNECTIONS=8, 10 agencies).
t_more_agencies_than_slots() {
	local a
	gen 10 2000
	replicas 1 10 MAX_CONNECTIONS=8 MAX_CONNECTIONS_PER_PEER=8
	for a in $(seq 10); do
		start_client $a "${PORT[1]}" "$TD/data" CLI_RETRY_MAX=1000
	done
	wait_clients 120 $(seq 10)
	check_store 10
	sorteo_once
	grep -q 'motivo: replica full, oldest waiter for the draw' \
	    "$TD/srv1.log" || bad "no waiter made room for an agency"
}

# SIGTERM while peers without a key flood and agencies with keys upload:
# the replica stops promptly and cleanly.  (Waiters cannot be parked in
# numbers on a keyed replica, a few per agency; stop_waiters has them.)
t_stop_loaded() {
	local i w t0 t1 rc pids=()
	gen 5 50000
	auth_keys 5
	replicas 1 5 AGENCY_KEYS="$KEYS/agencies.keys" MAX_CONNECTIONS=16384
	for i in 2 3 4 5; do
		unflood 127.0.0.$i "${PORT[1]}" &
		pids+=($!)
		PIDS+=($!)
	done
	for i in 1 2 3 4 5; do
		start_client $i "${PORT[1]}" "$TD/data" \
		    CLI_KEY_FILE="$KEYS/agency-$i.key" CLI_BATCH_MAXAMOUNT=5 \
		    CLI_BATCH_WINDOW=1
	done
	wait_lines "$TD/state/bets.csv" 500 60 || bad "upload did not start"
	mid_upload "${PORT[1]}" 1 || true
	t0=$(date +%s%N)
	kill -TERM "${SPID[srv1]}"
	wait_pid "${SPID[srv1]}" 10
	rc=$?
	t1=$(date +%s%N)
	echo "stop_loaded: SIGTERM to exit $(((t1 - t0) / 1000000)) ms" \
	    >>"$ROOT/figures"
	[ $rc -eq 0 ] || bad "server exited $rc on SIGTERM (124: not within 10 s)"
	grep -q 'action: exit | result: success' "$TD/srv1.log" ||
	    bad "server logged no exit"
	for i in "${pids[@]}"; do
		pkill -P "$i" 2>/dev/null
		kill "$i" 2>/dev/null
	done
}

# SIGTERM with 10,000 connections parked in WinnersWait while four of five
# agencies upload: the fifth never starts, so no draw can come whatever
# the timing, and every waiter must be answered NotReadyResponse by the
# stop, not dropped.
t_stop_waiters() {
	local w a t0 t1 rc r
	gen 5 50000
	replicas 1 5 MAX_CONNECTIONS=16384
	"$(tool lotteryctl)" -t 60 -a "127.0.0.1:${PORT[1]}" waiters 10000 5 60 \
	    >"$TD/waiters.out" 2>"$TD/waiters.err" &
	w=$!
	PIDS+=($w)
	wait_log "$TD/waiters.out" '^sent 10000' 120 ||
	    bad "the waiters were not all sent ($(cat "$TD/waiters.err"))"
	for a in 1 2 3 4; do
		start_client $a "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=5 \
		    CLI_BATCH_WINDOW=1
	done
	wait_lines "$TD/state/bets.csv" 500 60 || bad "upload did not start"
	t0=$(date +%s%N)
	kill -TERM "${SPID[srv1]}"
	wait_pid "${SPID[srv1]}" 10
	rc=$?
	t1=$(date +%s%N)
	echo "stop_waiters: SIGTERM to exit $(((t1 - t0) / 1000000)) ms" \
	    >>"$ROOT/figures"
	[ $rc -eq 0 ] || bad "server exited $rc on SIGTERM (124: not within 10 s)"
	wait "$w"
	r=$(tail -n 1 "$TD/waiters.out")
	case $r in
	"pages: 0 | not_ready: 10000 | busy: 0 | other: 0 | closed: 0 | unanswered: 0 "*) ;;
	*) bad "waiters at the stop: '$r'" ;;
	esac
	grep -q 'action: exit | result: success' "$TD/srv1.log" ||
	    bad "server logged no exit"
}

# a: five agencies on three replicas, everything stored once, one draw.
t_cluster() {
	local a
	gen 5 20000
	replicas 3 5
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data"
	done
	wait_clients 120 1 2 3 4 5
	check_store 5
	check_winners "${PORT[1]}" 5
	sorteo_once
}

# a2: /metrics of three replicas: before the run nothing is stored or
# closed and no draw; after five agencies' 20,000 bets the replicas'
# lottery_bets_stored_total add up to each agency's file, and each replica
# (every one served an agency its winners, so it read every close) shows
# five agencies closed and the draw done.
t_metrics() {
	local a i sum want
	declare -a MPORT
	gen 5 20000
	for i in 1 2 3; do
		# free_port runs in a subshell: move its counter on here so
		# the two ports differ.
		PORT[$i]=$(free_port)
		LIB_PORT=${PORT[$i]}
		MPORT[$i]=$(free_port)
		LIB_PORT=${MPORT[$i]}
		start_server srv$i "${PORT[$i]}" "$TD/state" 5 \
		    METRICS_PORT="${MPORT[$i]}" ||
		    bad "replica $i did not start ($(tail -n 2 "$TD/srv$i.log"))"
		scrape "${MPORT[$i]}" >"$TD/before-$i.txt" ||
		    bad "no /metrics on replica $i"
		[ "$(metric "$TD/before-$i.txt" lottery_agencies)" -eq 5 ] ||
		    bad "replica $i: lottery_agencies is not 5"
		[ "$(metric "$TD/before-$i.txt" lottery_agencies_closed)" -eq 0 ] ||
		    bad "replica $i: agencies closed before the run"
		[ "$(metric "$TD/before-$i.txt" lottery_draw_done)" -eq 0 ] ||
		    bad "replica $i: draw done before the run"
	done
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data"
	done
	wait_clients 120 1 2 3 4 5
	check_store 5
	for i in 1 2 3; do
		scrape "${MPORT[$i]}" >"$TD/after-$i.txt" ||
		    bad "no /metrics on replica $i after the run"
		[ "$(metric "$TD/after-$i.txt" lottery_agencies_closed)" -eq 5 ] ||
		    bad "replica $i: lottery_agencies_closed is not 5"
		[ "$(metric "$TD/after-$i.txt" lottery_draw_done)" -eq 1 ] ||
		    bad "replica $i: lottery_draw_done is not 1"
		[ "$(metric "$TD/after-$i.txt" lottery_group_commits_total)" \
		    -gt 0 ] || bad "replica $i led no group commit"
	done
	sum=$(cat "$TD"/after-*.txt >"$TD/after.txt"
	    metric "$TD/after.txt" lottery_bets_stored_total)
	[ "$sum" -eq 20000 ] ||
	    bad "lottery_bets_stored_total over the replicas is $sum, want 20000"
	for a in 1 2 3 4 5; do
		want=$(lines "$TD/data/agency-$a.csv")
		sum=$(metric "$TD/after.txt" lottery_bets_stored_total \
		    "agency=\"$a\"")
		[ "$sum" -eq "$want" ] ||
		    bad "agency $a: $sum bets in the metrics, $want in its file"
	done
	# A scrape is not a bet: a wrong path is refused, and the page again
	# says the same.
	curl -sf --max-time 10 "http://127.0.0.1:${MPORT[1]}/bets" \
	    >/dev/null && bad "/bets answered"
	sorteo_once
	# A port out of range, or one already taken (replica 1's), is
	# refused at start with the key named.
	server_conf "$TD/m.ini" "$(free_port)" "$TD/state" 5
	refuses "METRICS_PORT 70000" METRICS_PORT \
	    env METRICS_PORT=70000 "$BIN/server" -c "$TD/m.ini"
	refuses "METRICS_PORT taken" 'METRICS_PORT: cannot listen' \
	    env METRICS_PORT="${MPORT[1]}" "$BIN/server" -c "$TD/m.ini"
}

# mvalue NAME LABELS: one sample of replica 1's /metrics (MPORT1), or -1.
mvalue() {
	scrape "$MPORT1" >"$TD/m.txt" 2>/dev/null || { echo -1; return; }
	grep -q "^$1{$2} " "$TD/m.txt" || { echo -1; return; }
	metric "$TD/m.txt" "$1" "$2"
}

# mwait NAME LABELS VALUE: 0 once the sample is VALUE, 1 after 30 s.
mwait() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(mvalue "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# a2b: the connection gauges and the handshake failures on a replica with
# agency keys.  A connection that says nothing is counted in the
# handshake until the replica's own handshake deadline (5 s) closes it,
# which counts a timeout; a wrong key and a proof without a hello count
# by reason; an agency's WinnersWait before the draw is counted waiting
# for the draw until the draw answers it.
t_metrics_conns() {
	local fd waiter r
	gen 2 100
	auth_keys 2
	PORT[1]=$(free_port)
	LIB_PORT=${PORT[1]}
	MPORT1=$(free_port)
	start_server srv1 "${PORT[1]}" "$TD/state" 2 \
	    AGENCY_KEYS="$KEYS/agencies.keys" METRICS_PORT="$MPORT1" ||
	    bad "replica did not start"
	mwait lottery_connections 'state="handshake"' 0 || bad "gauge not 0"
	exec {fd}<>"/dev/tcp/127.0.0.1/${PORT[1]}" || bad "no connection"
	mwait lottery_connections 'state="handshake"' 1 ||
	    bad "a silent connection is not counted in the handshake"
	mwait lottery_handshake_failures_total 'reason="timeout"' 1 ||
	    bad "the handshake deadline counted no timeout"
	mwait lottery_connections 'state="handshake"' 0 ||
	    bad "a connection closed at its deadline is still counted"
	exec {fd}>&-
	ctl -a "127.0.0.1:${PORT[1]}" -i 2 -k "$KEYS/agency-1.key" status 2 \
	    >/dev/null 2>&1 && bad "a wrong key was served"
	mwait lottery_handshake_failures_total 'reason="bad_proof"' 1 ||
	    bad "a wrong key counted no bad_proof"
	r=$(req "${PORT[1]}" "AuthProof:$(printf '%064d' 0)")
	[ "$r" = StoreResponse:1 ] || bad "a proof without a hello: '$r'"
	mwait lottery_handshake_failures_total 'reason="out_of_order"' 1 ||
	    bad "a proof without a hello counted no out_of_order"
	as_agency "${PORT[1]}" 2 -t 90 send "WinnersWait:2:0:60000" \
	    >"$TD/waiter.out" 2>&1 &
	waiter=$!
	mwait lottery_connections 'state="draw_wait"' 1 ||
	    bad "a parked WinnersWait is not counted waiting for the draw"
	as_agency "${PORT[1]}" 1 close 1 >/dev/null || bad "agency 1's close"
	as_agency "${PORT[1]}" 2 close 2 >/dev/null || bad "agency 2's close"
	wait "$waiter" || bad "the waiter failed ($(cat "$TD/waiter.out"))"
	mwait lottery_connections 'state="draw_wait"' 0 ||
	    bad "an answered waiter is still counted"
	mwait lottery_connections 'state="authenticated"' 0 ||
	    bad "closed connections are still counted as authenticated"
}

# a3: the monitor's page and JSON over three replicas and five agencies:
# before the run every agency at 0 and the draw pending; after it each
# agency's count is its file's, its winners are expected.txt's, the draw
# is done, every replica alive; no document number of the data is on any
# page.  The monitor looks every 100 ms: the checks wait for the look that
# follows the clients' exit (bounded, a failure past 10 s).
t_monitor() {
	local a i mport targets= want got
	declare -a MPORT
	gen 5 20000
	for i in 1 2 3; do
		PORT[$i]=$(free_port)
		LIB_PORT=${PORT[$i]}
		MPORT[$i]=$(free_port)
		LIB_PORT=${MPORT[$i]}
		start_server srv$i "${PORT[$i]}" "$TD/state" 5 \
		    METRICS_PORT="${MPORT[$i]}" || bad "replica $i did not start"
		targets="$targets,127.0.0.1:${MPORT[$i]}"
	done
	mport=$(free_port)
	MONITOR_PORT=$mport MONITOR_TARGETS=${targets#,} \
	    STATE_DIR="$TD/state" DATA_DIR="$TD/data" AGENCIES_AMOUNT=5 \
	    MONITOR_INTERVAL=100ms "$BIN/monitor" >"$TD/monitor.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$mport/api/status" || bad "no monitor"
	curl -sf "http://127.0.0.1:$mport/api/status" >"$TD/before.json"
	grep -q '"draw":{"done":false' "$TD/before.json" ||
	    bad "draw not pending before the run"
	[ "$(grep -o '"stored":0,"total":4000,"closed":false' \
	    "$TD/before.json" | wc -l)" -eq 5 ] ||
	    bad "agencies not all at 0 of 4000 before the run"
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data"
	done
	wait_clients 120 1 2 3 4 5
	for i in $(seq 100); do
		curl -sf "http://127.0.0.1:$mport/api/status" >"$TD/after.json"
		grep -q '"draw":{"done":true' "$TD/after.json" && break
		sleep 0.1
	done
	grep -q '"draw":{"done":true' "$TD/after.json" ||
	    bad "monitor: draw not done after the run"
	for a in 1 2 3 4 5; do
		want="{\"agency\":$a,\"stored\":$(expected $a 2),\"total\":$(expected $a 2),\"closed\":true,\"winners\":$(expected $a 3)}"
		grep -qF "$want" "$TD/after.json" ||
		    bad "monitor: agency $a is not $want"
	done
	[ "$(grep -o '"alive":true' "$TD/after.json" | wc -l)" -eq 3 ] ||
	    bad "monitor: not three replicas alive"
	curl -sf "http://127.0.0.1:$mport/" >"$TD/page.html" ||
	    bad "monitor: no page"
	curl -sf "http://127.0.0.1:$mport/fragment" >"$TD/fragment.html"
	grep -q 'draw done' "$TD/page.html" || bad "page: no 'draw done'"
	[ "$(grep -o '<tr class="agency"' "$TD/page.html" | wc -l)" -eq 5 ] ||
	    bad "page: not five agency rows"
	# Documents are 5 to 8 digits: look for each one as a whole number.
	cat "$TD/after.json" "$TD/page.html" "$TD/fragment.html" |
	    grep -oE '[0-9]+' | sort -u >"$TD/numbers.txt"
	cut -d, -f3 "$TD"/data/agency-*.csv | sort -u >"$TD/docs.txt"
	got=$(comm -12 "$TD/numbers.txt" "$TD/docs.txt" | head -n 3 | tr '\n' ' ')
	[ -z "$got" ] || bad "monitor pages show document numbers: $got"
	curl -sf "http://127.0.0.1:$mport/nothing" >/dev/null &&
	    bad "monitor answered an unknown path"
}

# b: kill -9 the replica agencies 1 and 4 use, mid-upload, and restart it.
# The replica is held inside its 20th sync (faultfs), a batch written and
# not yet answered, so the kill lands mid-upload whatever the speed of
# the machine; the agency whose batch it was sees its connection fail.
t_replica_kill() {
	local a mid=0 pid fails
	fs_setup 5 40000 || return
	replicas 3 5
	faultfs_arm "$TD/ctl" "fdatasync hold pid ${SPID[srv1]} after 20"
	# One batch at a time (pipeline_kill kills a replica under a full
	# window).
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data" \
		    CLI_BATCH_MAXAMOUNT=10 CLI_BATCH_WINDOW=1
	done
	pid=$(faultfs_held "$TD/faultfs.log" fdatasync) ||
	    { bad "replica 1 never reached its 20th sync"; return; }
	[ "$pid" = "${SPID[srv1]}" ] || bad "the held sync is pid $pid's"
	# Replica 1 keeps its store through the sync, so agencies 1 and 4
	# stand still; the kernel keeps bets.csv's inode through it too, so
	# the other replicas wait, and the file holds whole groups only.
	for a in 1 4; do
		mid_upload_file $a && mid=1
	done
	[ $mid -eq 1 ] || bad "agencies 1 and 4 not mid-upload at the kill"
	fails=$(cat "$TD/client-1.log" "$TD/client-4.log" | grep -c 'result: fail')
	kill -9 "${SPID[srv1]}"
	# The held sync returns, and the replica dies before its reply.
	faultfs_arm "$TD/ctl"
	wait "${SPID[srv1]}" 2>/dev/null
	start_server srv1 "${PORT[1]}" "$TD/state" 5 ||
	    bad "replica 1 did not restart on its port"
	wait_clients 120 1 2 3 4 5
	[ "$(cat "$TD/client-1.log" "$TD/client-4.log" | grep -c 'result: fail')" \
	    -gt "$fails" ] || bad "neither agency 1 nor 4 saw the kill"
	check_store 5
	check_winners "${PORT[2]}" 5
	sorteo_once
}

# b2: a replica killed (kill -9) while a client has a window of batches
# in flight on it: the client resumes from AgencyStatus on the restarted
# replica and every bet is stored exactly once.
# The replica is held inside its 5th sync (faultfs) while the window
# fills, and killed there: at most 5 groups of 64 batches are stored.
t_pipeline_kill() {
	fs_setup 1 40000 || return
	replicas 1 1
	faultfs_arm "$TD/ctl" "fdatasync hold after 5"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=10 \
	    CLI_BATCH_WINDOW=64
	faultfs_held "$TD/faultfs.log" fdatasync >/dev/null ||
	    { bad "the replica never reached its 5th sync"; return; }
	# The only replica is held: the files are what the kill will leave.
	mid_upload_file 1 || bad "agency 1 not mid-upload at the kill" \
	    "($(lines "$TD/back/bets.csv") rows)"
	kill -9 "${SPID[srv1]}"
	faultfs_arm "$TD/ctl"
	wait "${SPID[srv1]}" 2>/dev/null
	start_server srv1 "${PORT[1]}" "$TD/state" 1 ||
	    bad "replica 1 did not restart on its port"
	wait_clients 120 1
	grep -qE 'action: (lote_enviado|reconnect) \| result: fail' \
	    "$TD/client-1.log" || bad "the client saw no failure mid-window"
	check_store 1
	check_winners "${PORT[1]}" 1
}

# w: a WinnersWait on replica 1 is answered with the winners as soon as
# the last agency closes on replica 2, long before its 60 s wait ends;
# one asked before that gets NotReadyResponse when its wait ends.
t_wait_woken() {
	local r t0 t1 waiter n
	gen 2 200
	replicas 2 2
	r=$(req "${PORT[1]}" "$(batch_of 1 0 $(expected 1 2))")
	[ "$r" = StoreResponse:0 ] || bad "agency 1's batch: '$r'"
	send_only "${PORT[1]}" AgencyClose:1 || bad "agency 1's close"
	r=$(req "${PORT[1]}" "WinnersWait:1:0:300")
	[ "$r" = NotReadyResponse: ] || bad "a wait before the draw: '$r'"
	# The replica has let the earlier connections go, and then takes the
	# waiter's, before the close.
	for ((n = 0; n < 300; n++)); do
		[ "$(conn_fds "${SPID[srv1]}")" -eq 0 ] && break
		sleep 0.1
	done
	t0=$(date +%s%N)
	ctl -t 90 -a "127.0.0.1:${PORT[1]}" send "WinnersWait:2:0:60000" \
	    >"$TD/waiter.out" 2>&1 &
	waiter=$!
	for ((n = 0; n < 300; n++)); do
		[ "$(conn_fds "${SPID[srv1]}")" -ge 1 ] && break
		sleep 0.1
	done
	[ $n -lt 300 ] || bad "the replica never took the waiter's connection"
	r=$(req "${PORT[2]}" "$(batch_of 2 0 $(expected 2 2))")
	[ "$r" = StoreResponse:0 ] || bad "agency 2's batch: '$r'"
	send_only "${PORT[2]}" AgencyClose:2 || bad "agency 2's close"
	wait "$waiter" || bad "the waiter failed ($(cat "$TD/waiter.out"))"
	t1=$(date +%s%N)
	# A wait that ran out would have taken 60 s.
	[ $(((t1 - t0) / 1000000)) -lt 30000 ] ||
	    bad "the waiter took $(((t1 - t0) / 1000000)) ms: not woken by the draw"
	r=$(cat "$TD/waiter.out")
	[ "${r%%;*}" = "WinnersPageResponse:$(expected 2 3)" ] ||
	    bad "the waiter got '$r', want $(expected 2 3) winners"
	sorteo_once
}

# c: a StoreResponse:0 means the bets are in bets.csv, even after kill -9.
t_durability() {
	local r want
	replicas 1 5
	r=$(req "${PORT[1]}" \
	    "StoreBatchAt:1:0:Ana;Pérez;30904465;1999-03-17;7574:Iñaki;O'Connor;30904466;1980-02-29;12" \
	    "StoreBet:2;Zoë;Núñez;30904467;2001-12-31;0")
	kill -9 "${SPID[srv1]}"
	[ "$r" = $'StoreResponse:0\nStoreResponse:0' ] || bad "replies '$r'"
	want=$'1,Ana,Pérez,30904465,1999-03-17,7574\r\n1,Iñaki,O\'Connor,30904466,1980-02-29,12\r\n2,Zoë,Núñez,30904467,2001-12-31,0\r'
	[ "$(cat "$TD/state/bets.csv" 2>/dev/null)" = "$want" ] ||
	    bad "bets.csv after kill -9 is not the 3 acknowledged rows"
}

# d: a batch whose reply was lost is resent, to another replica and back;
# stored once.  Overlapping and gapped positions too.
t_lost_reply() {
	local b1="Ana;Pérez;20000001;1990-01-01;1" b2="Bea;Díaz;20000002;1990-01-02;2"
	local b3="Cid;Ruiz;20000003;1990-01-03;3" b4="Dan;Sosa;20000004;1990-01-04;4"
	local p="StoreBatchAt:1:0:$b1:$b2:$b3" r
	replicas 2 5
	send_only "${PORT[1]}" "$p"
	r=$(req "${PORT[2]}" "$p")
	[ "$r" = StoreResponse:0 ] || bad "resend to replica 2: '$r'"
	r=$(req "${PORT[1]}" "$p")
	[ "$r" = StoreResponse:0 ] || bad "resend to replica 1: '$r'"
	r=$(req "${PORT[2]}" "StoreBatchAt:1:2:$b3:$b4")
	[ "$r" = StoreResponse:0 ] || bad "overlapping batch: '$r'"
	r=$(req "${PORT[1]}" "StoreBatchAt:1:9:Eva;Paz;20000009;1990-01-09;9")
	[ "$r" = StoreResponse:1 ] || bad "batch past a gap: '$r'"
	r=$(req "${PORT[1]}" "AgencyStatus:1")
	[ "$r" = "AgencyStatusResponse:4;0" ] || bad "status '$r', want 4;0"
	r=$(cut -d, -f4 "$TD/state/bets.csv" 2>/dev/null | tr '\n' ' ')
	[ "$r" = "20000001 20000002 20000003 20000004 " ] ||
	    bad "stored documents '$r'"
	[ "$(req "${PORT[1]}" Echo:x)" = Echo:x ] ||
	    bad "replica 1 died after a peer hung up on its reply"
}

# e: kill -9 an agency mid-file, rerun it: every row once.
# Replica 1 is held inside its 50th sync (faultfs), so the client is
# waiting for the reply to a batch when it is killed.  10000 rows in
# batches of 3, at most 32 of them a sync: the upload needs over 100.
t_client_kill() {
	fs_setup 2 20000 || return
	replicas 2 2
	faultfs_arm "$TD/ctl" "fdatasync hold pid ${SPID[srv1]} after 50"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=3 \
	    CLI_LOG_LEVEL=DEBUG
	faultfs_held "$TD/faultfs.log" fdatasync >/dev/null ||
	    { bad "replica 1 never reached its 50th sync"; return; }
	kill -9 "${CPID[1]}"
	wait "${CPID[1]}" 2>/dev/null
	faultfs_arm "$TD/ctl"
	# The client is gone: what agency 1 has stored is what the kill left.
	mid_upload "${PORT[1]}" 1 || bad "agency 1 not mid-upload at the kill"
	start_client 1 "${PORT[2]}" "$TD/data" CLI_BATCH_MAXAMOUNT=7
	start_client 2 "${PORT[1]}" "$TD/data"
	wait_clients 120 1 2
	check_store 2
	check_winners "${PORT[2]}" 2
	sorteo_once
}

# f: an idle connection and one trickling a byte a second do not stop a
# run; both are timed out.
t_idle() {
	local p
	gen 3 6000
	replicas 1 3 CONN_TIMEOUT=2s
	hold "${PORT[1]}" 30
	ctl_bg -a "127.0.0.1:${PORT[1]}" trickle 1 "Echo:a slow trickle of bytes"
	sleep 0.5
	for p in 1 2 3; do
		start_client $p "${PORT[1]}" "$TD/data"
	done
	wait_clients 60 1 2 3
	check_store 3
	wait_log "$TD/srv1.log" 'motivo: idle timeout' 8 ||
	    bad "no timeout logged for the idle connection"
	# The trickle is cut when its frame is not whole within CONN_TIMEOUT.
	wait_log "$TD/srv1.log" 'motivo: frame not completed in time' 8 ||
	    bad "the trickling connection was never timed out"
}

# g helper: send one bad request; want StoreResponse:1 (connection still
# open) or a closed connection, a "result: fail" line, and a live replica.
bad_request() {
	local what=$1 kind=$2 data=$3 port=${PORT[1]} before r n
	before=$(grep -c 'result: fail' "$TD/srv1.log")
	case $kind in
	frame)
		r=$(req "$port" "$data" "Echo:open")
		[ "$r" = $'StoreResponse:1\nEcho:open' ] ||
		    bad "$what: replies '$(echo $r)', want StoreResponse:1 Echo:open"
		;;
	raw)
		r=$(raw_req "$port" "$data")
		[ "$r" = "<closed>" ] || [ "$r" = StoreResponse:1 ] ||
		    bad "$what: reply '$r'"
		;;
	cut)
		ctl -a "127.0.0.1:$port" -n raw "$data"
		;;
	esac
	for ((n = 0; n < 20; n++)); do
		[ "$(grep -c 'result: fail' "$TD/srv1.log")" -gt "$before" ] &&
		    break
		sleep 0.1
	done
	[ $n -lt 20 ] || bad "$what: no 'result: fail' logged"
	[ "$(req "$port" Echo:alive)" = Echo:alive ] ||
	    bad "$what: replica does not answer Echo afterwards"
}

t_malformed() {
	local ok="Ana;Pérez;20000001;1990-01-01;1" long sum r
	long=$(printf 'N%.0s' $(seq 51))
	replicas 1 5
	# Something stored first, so "unchanged" compares real content.
	[ "$(req "${PORT[1]}" "StoreBet:5;Base;Line;29999999;1990-01-01;1")" = \
	    StoreResponse:0 ] || bad "baseline StoreBet not stored"
	sum=$(md5sum <"$TD/state/bets.csv")
	bad_request "length 0" raw '\x00\x00'
	bad_request "length 0xFFFF" raw "\\xff\\xff$(printf 'x%.0s' $(seq 300))"
	bad_request "length 8191" raw "\\x1f\\xff$(printf 'x%.0s' $(seq 300))"
	bad_request "truncated frame" cut '\x00\x40StoreBet:1;Ana'
	bad_request "invalid UTF-8" frame $'StoreBet:1;Jos\xe9;Pérez;20000001;1990-01-01;1'
	bad_request "overlong UTF-8" frame $'StoreBet:1;Jos\xc0\xafe;Pérez;20000001;1990-01-01;1'
	bad_request "unknown type" frame "Foo:1;$ok"
	bad_request "no type separator" frame "StoreBet"
	bad_request "five fields" frame "StoreBet:1;Ana;Pérez;20000001;1990-01-01"
	bad_request "seven fields" frame "StoreBet:1;$ok;9"
	bad_request "date 2023-02-30" frame "StoreBet:1;Ana;Pérez;20000001;2023-02-30;1"
	bad_request "date 1990-1-01" frame "StoreBet:1;Ana;Pérez;20000001;1990-1-01;1"
	bad_request "number 10000" frame "StoreBet:1;Ana;Pérez;20000001;1990-01-01;10000"
	bad_request "number -1" frame "StoreBet:1;Ana;Pérez;20000001;1990-01-01;-1"
	bad_request "empty number" frame "StoreBet:1;Ana;Pérez;20000001;1990-01-01;"
	bad_request "51-byte name" frame "StoreBet:1;$long;Pérez;20000001;1990-01-01;1"
	bad_request "empty name" frame "StoreBet:1;;Pérez;20000001;1990-01-01;1"
	bad_request "11-byte document" frame "StoreBet:1;Ana;Pérez;12345678901;1990-01-01;1"
	bad_request "';' inside a field" frame "StoreBatch:1:Ana;Pé;rez;20000001;1990-01-01;1"
	bad_request "':' inside a field" frame "StoreBet:1;An:a;Pérez;20000001;1990-01-01;1"
	bad_request "control byte" frame $'StoreBet:1;An\x01a;Pérez;20000001;1990-01-01;1'
	bad_request "agency 0" frame "StoreBet:0;$ok"
	bad_request "agency 6 of 5" frame "StoreBet:6;$ok"
	bad_request "agency x" frame "StoreBatch:x:$ok"
	bad_request "one bad bet in a batch" frame \
	    "StoreBatch:1:$ok:Bea;Díaz;20000002;1990-02-30;2"
	bad_request "StoreBatchAt bad pos" frame "StoreBatchAt:1:x:$ok"
	bad_request "StoreBatchAt gap" frame "StoreBatchAt:1:5:$ok"
	send_only "${PORT[1]}" "AgencyClose:4"
	wait_lines "$TD/state/agencies_closed.txt" 1 5
	bad_request "bet of a closed agency" frame "StoreBet:4;$ok"
	bad_request "batch of a closed agency" frame "StoreBatchAt:4:0:$ok"
	[ "$(md5sum <"$TD/state/bets.csv")" = "$sum" ] ||
	    bad "bets.csv changed by rejected requests"
	# The same replica still stores a good bet.
	r=$(req "${PORT[1]}" "StoreBet:1;$ok")
	[ "$r" = StoreResponse:0 ] || bad "good bet after the bad ones: '$r'"
	[ "$(tail -n 1 "$TD/state/bets.csv")" = $'1,Ana,Pérez,20000001,1990-01-01,1\r' ] ||
	    bad "good bet not appended"
}

# h: bad rows are reported by line number and skipped; good rows go.
t_bad_rows() {
	local long line
	long=$(printf 'N%.0s' $(seq 51))
	mkdir -p "$TD/data"
	printf '%s\r\n' \
	    "Ana,Pérez,30000001,1990-01-01,7574" \
	    "Bob,Díaz,30000002,1990-02-30,5" \
	    "Carla,Núñez,30000003,1985-05-05,10" \
	    "Dan,Ruiz,30000004,1985-05-05" \
	    "Eva,Sosa,30000005,1970-07-07,10000" \
	    "Fé,O'Connor,30000006,1970-07-07,7574" \
	    "$long,Paz,30000007,2000-12-31,42" \
	    "Gus,Paz,30000008,2000-12-31,42" \
	    $'H\xe9ctor,Paz,30000009,2000-12-31,42' \
	    "Ivo,Paz,30000010,2000-12-31,43" >"$TD/data/agency-1.csv"
	printf '%s\r\n' "Ana,Pérez,30000001,1990-01-01,7574" \
	    "Carla,Núñez,30000003,1985-05-05,10" \
	    "Fé,O'Connor,30000006,1970-07-07,7574" \
	    "Gus,Paz,30000008,2000-12-31,42" \
	    "Ivo,Paz,30000010,2000-12-31,43" >"$TD/good.csv"
	replicas 1 1
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_pid "${CPID[1]}" 60
	line=$?
	[ $line -ne 0 ] && [ $line -ne 124 ] ||
	    bad "client exited $line, want a failure status"
	for line in 2 4 5 7 9; do
		grep -qE "(line|linea|línea):? *$line([^0-9]|$)" "$TD/client-1.log" ||
		    bad "bad row at line $line not reported"
	done
	for line in 1 3 6 8 10; do
		grep -qE "(line|linea|línea):? *$line([^0-9]|$)" "$TD/client-1.log" &&
		    bad "good row at line $line reported as bad"
	done
	cut -d, -f2- "$TD/state/bets.csv" 2>/dev/null | cmp -s - "$TD/good.csv" ||
	    bad "stored rows are not the 5 good rows in order"
	grep -q 'cant_ganadores: 2' "$TD/client-1.log" ||
	    bad "cant_ganadores: 2 not logged"
}

# i: SIGTERM stops a server (status 0) and a client, uploading or polling,
# with status 3 (stopped before it was done); a rerun resumes.
# The replica is held inside its 100th sync (faultfs), so agency 1 is
# mid-upload, waiting for a reply, when its SIGTERM comes.
t_shutdown() {
	local rc n
	fs_setup 2 20000 || return
	replicas 1 2
	faultfs_arm "$TD/ctl" "fdatasync hold after 100"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=5 \
	    CLI_BATCH_WINDOW=1 CLI_LOG_LEVEL=DEBUG
	faultfs_held "$TD/faultfs.log" fdatasync >/dev/null ||
	    { bad "the replica never reached its 100th sync"; return; }
	kill -TERM "${CPID[1]}"
	wait_pid "${CPID[1]}" 10
	rc=$?
	faultfs_arm "$TD/ctl"
	[ $rc -eq 3 ] || bad "client after SIGTERM mid-upload exited $rc, want 3"
	mid_upload "${PORT[1]}" 1 || bad "agency 1 not mid-upload at SIGTERM"
	grep -q 'action: shutdown' "$TD/client-1.log" ||
	    bad "client logged no action: shutdown"
	n=$(lines "$TD/state/bets.csv")
	[ "$n" -lt 10000 ] || bad "agency 1 was not cut short ($n rows)"
	# Agency 2 closes and then waits for a draw that cannot happen yet.
	start_client 2 "${PORT[1]}" "$TD/data"
	for ((n = 0; n < 300; n++)); do
		[ "$(req "${PORT[1]}" AgencyStatus:2)" = \
		    "AgencyStatusResponse:10000;1" ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -0 "${CPID[2]}" 2>/dev/null || bad "agency 2 exited before the draw"
	kill -TERM "${CPID[2]}"
	wait_pid "${CPID[2]}" 10
	rc=$?
	[ $rc -eq 3 ] || bad "client polling winners exited $rc on SIGTERM, want 3"
	grep -q 'action: shutdown' "$TD/client-2.log" ||
	    bad "polling client logged no action: shutdown"
	: >"$TD/client-1.log"
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_clients 60 1
	check_store 2
	kill -TERM "${SPID[srv1]}"
	wait_pid "${SPID[srv1]}" 10
	rc=$?
	[ $rc -eq 0 ] || bad "server exited $rc on SIGTERM"
	grep -q 'action: shutdown' "$TD/srv1.log" ||
	    bad "server logged no action: shutdown"
}

# j helper: run a program that must refuse to start; its output must match.
refuses() {
	local what=$1 regex=$2 rc
	shift 2
	timeout 5 "$@" >"$TD/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
		bad "$what: exit status $rc"
	elif ! grep -qE "$regex" "$TD/out"; then
		bad "$what: message '$(head -c 200 "$TD/out")' lacks /$regex/"
	fi
}

t_config() {
	local port
	port=$(free_port)
	mkdir -p "$TD/state" "$TD/data"
	export SERVER_IP=127.0.0.1 SERVER_PORT=$port STATE_DIR=$TD/state
	server_conf "$TD/ok.ini" "$port" "$TD/state" 5
	timeout 5 "$BIN/server" -n -c "$TD/ok.ini" >"$TD/out" 2>&1 ||
	    bad "server -n with a good config failed: $(head -c 200 "$TD/out")"
	refuses "missing server config" 'nope\.ini' \
	    "$BIN/server" -c "$TD/nope.ini"
	refuses "SERVER_PORT=abc" SERVER_PORT \
	    env SERVER_PORT=abc "$BIN/server" -c "$TD/ok.ini"
	sed 's/^SERVER_PORT = .*/SERVER_PORT = 70000/' "$TD/ok.ini" >"$TD/p.ini"
	refuses "port 70000 in the file" SERVER_PORT \
	    env -u SERVER_PORT "$BIN/server" -c "$TD/p.ini"
	refuses "AGENCIES_AMOUNT=0" AGENCIES_AMOUNT \
	    env AGENCIES_AMOUNT=0 "$BIN/server" -c "$TD/ok.ini"
	refuses "CONN_TIMEOUT=soon" CONN_TIMEOUT \
	    env CONN_TIMEOUT=soon "$BIN/server" -c "$TD/ok.ini"
	client_conf "$TD/ok.yaml" 1 "127.0.0.1:$port" "$TD/data"
	refuses "missing client config" 'nope\.yaml' \
	    "$BIN/client" -c "$TD/nope.yaml"
	refuses "CLI_BATCH_MAXAMOUNT=abc" 'maxAmount|MAXAMOUNT' \
	    env CLI_BATCH_MAXAMOUNT=abc "$BIN/client" -c "$TD/ok.yaml"
	sed 's/^timeout: .*/timeout: soon/' "$TD/ok.yaml" >"$TD/t.yaml"
	refuses "timeout: soon" timeout "$BIN/client" -c "$TD/t.yaml"
	refuses "CLI_ID=0" 'id|ID' env CLI_ID=0 "$BIN/client" -c "$TD/ok.yaml"
}

# k: AgencyClose from peers that hang up at once; the server goes on, the
# closed agencies stay closed, the last close draws.
t_agency_close() {
	local i r
	replicas 1 3
	for ((i = 0; i < 20; i++)); do
		send_only "${PORT[1]}" "AgencyClose:1"
	done
	[ "$(req "${PORT[1]}" Echo:x)" = Echo:x ] || bad "no Echo after the closes"
	# The closes get no reply: wait for the one that is recorded.
	wait_lines "$TD/state/agencies_closed.txt" 1 30 ||
	    bad "none of the closes was recorded"
	r=$(req "${PORT[1]}" AgencyStatus:1 AgencyStatus:2)
	[ "$r" = $'AgencyStatusResponse:0;1\nAgencyStatusResponse:0;0' ] ||
	    bad "status '$(echo $r)'"
	r=$(req "${PORT[1]}" "StoreBet:1;Ana;Pérez;20000001;1990-01-01;1")
	[ "$r" = StoreResponse:1 ] || bad "bet for a closed agency: '$r'"
	r=$(req "${PORT[1]}" WinnersRequest:1)
	[ "$r" = NotReadyResponse: ] || bad "winners before the draw: '$r'"
	send_only "${PORT[1]}" AgencyClose:2
	send_only "${PORT[1]}" AgencyClose:3
	wait_log "$TD/srv1.log" 'action: sorteo \| result: success' 5 ||
	    bad "no draw after every agency closed"
	r=$(req "${PORT[1]}" WinnersRequest:1)
	[ "$r" = WinnersResponse: ] || bad "winners after the draw: '$r'"
	sorteo_once
}

# Single-bet mode: one StoreBet from the environment.
t_single_bet() {
	local rc
	replicas 1 5
	mkdir -p "$TD/data"
	start_client 3 "${PORT[1]}" "$TD/data" NOMBRE=Santiago APELLIDO="Lorca" \
	    DOCUMENTO=30904465 NACIMIENTO=1999-03-17 NUMERO=7574
	wait_pid "${CPID[3]}" 30
	rc=$?
	[ $rc -eq 0 ] || bad "single-bet client exited $rc"
	grep -q 'action: apuesta_enviada | result: success | dni: 30904465 | numero: 7574' \
	    "$TD/client-3.log" || bad "client did not log apuesta_enviada"
	grep -q 'action: apuesta_almacenada | result: success | dni: 30904465 | numero: 7574' \
	    "$TD/srv1.log" || bad "server did not log apuesta_almacenada"
	[ "$(cat "$TD/state/bets.csv" 2>/dev/null)" = \
	    $'3,Santiago,Lorca,30904465,1999-03-17,7574\r' ] ||
	    bad "bets.csv is not the one bet"
}

# l: connections past MAX_CONNECTIONS are closed at once and logged; the
# held ones keep theirs, and a freed slot serves again.
# The holders are served an Echo before the third comes, so both slots
# are taken when it does (CONN_TIMEOUT 60 s: they stay taken).
t_conn_cap() {
	local r
	replicas 1 5 MAX_CONNECTIONS=2 CONN_TIMEOUT=60s
	hold_served "${PORT[1]}" 2 || { bad "the holders were not served"; return; }
	# Turned away: told the replica is busy and when to retry, then closed.
	r=$(req "${PORT[1]}" Echo:third)
	[ "$r" = "BusyResponse:250" ] ||
	    bad "third connection got '$r', want BusyResponse:250"
	wait_log "$TD/srv1.log" 'motivo: too many connections' 10 ||
	    bad "refused connection not logged"
	kill "${HOLDERS[@]}"
	echo_until "${PORT[1]}" again 30 || bad "no Echo served after the holders left"
}

# m: a full disk: the batch that does not fit is refused with a logged
# error and leaves only whole rows; acknowledged rows stay, and the same
# batch is stored once space is back.  Needs root to mount a small tmpfs.
t_disk_full() {
	local batch="" i n r acked=0 refused=""
	mkdir -p "$TD/state"
	if ! mount -t tmpfs -o size=16k tmpfs "$TD/state" 2>/dev/null; then
		echo "cannot mount a tmpfs here: disk_full not run" >"$TD/.skip"
		return
	fi
	replicas 1 5
	for ((i = 0; i < 40; i++)); do
		batch="$batch:Bartolomé;Ñúñez de la Peña y Fernández;3$(printf %07d $i);1970-01-01;$i"
	done
	for ((n = 0; n < 20; n++)); do
		r=$(req "${PORT[1]}" "StoreBatchAt:1:$acked$batch")
		if [ "$r" = StoreResponse:0 ]; then
			acked=$((acked + 40))
		else
			refused=$r
			break
		fi
	done
	[ "$refused" = StoreResponse:1 ] || bad "no batch refused on a full disk ('$refused')"
	[ "$(lines "$TD/state/bets.csv")" -eq $acked ] ||
	    bad "bets.csv has $(lines "$TD/state/bets.csv") rows, $acked acknowledged"
	[ -z "$(tail -c 1 "$TD/state/bets.csv")" ] || bad "a partial row stayed"
	grep -q 'action: write | result: fail .*No space left' "$TD/srv1.log" ||
	    bad "no write failure logged"
	mount -o remount,size=1m "$TD/state" || bad "remount failed"
	r=$(req "${PORT[1]}" "StoreBatchAt:1:$acked$batch")
	[ "$r" = StoreResponse:0 ] || bad "after space came back: '$r'"
	[ "$(lines "$TD/state/bets.csv")" -eq $((acked + 40)) ] ||
	    bad "bets.csv has $(lines "$TD/state/bets.csv") rows, want $((acked + 40))"
	kill "${SPID[srv1]}"
	wait "${SPID[srv1]}" 2>/dev/null
	umount -l "$TD/state"
}

# n helper: upload ROWS bets as agency 1 of 2, so the client stays alive
# polling for a draw that never comes; print its peak RSS in kB.
peak_rss_after_upload() {
	local rows=$1 kb
	gen 1 "$rows"
	replicas 1 2
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_lines "$TD/state/bets.csv" "$rows" 120 ||
	    bad "upload of $rows rows did not finish"
	wait_log "$TD/client-1.log" 'carga_finalizada' 10 ||
	    bad "no carga_finalizada after $rows rows"
	kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/${CPID[1]}/status")
	kill "${CPID[1]}" "${SPID[srv1]}"
	wait "${CPID[1]}" "${SPID[srv1]}" 2>/dev/null
	rm -rf "$TD/data" "$TD/state"
	echo "${kb:-0}"
}

# n: the client's memory does not grow with its file: 200000 rows peak
# within 1 MiB of 1000 rows.
t_bounded_memory() {
	local small big
	small=$(peak_rss_after_upload 1000)
	big=$(peak_rss_after_upload 200000)
	echo "client peak RSS: $small kB for 1000 rows, $big kB for 200000 rows" \
	    >"$TD/rss"
	[ "$small" -gt 0 ] && [ "$big" -gt 0 ] || bad "no RSS read ($small, $big)"
	[ $((big - small)) -lt 1024 ] ||
	    bad "peak RSS grew from $small kB to $big kB with the file"
}

# o: SIGTERM reaches a client blocked waiting for a reply (the replica is
# frozen with SIGSTOP): it stops at once, not after its 60 s timeout, with
# status 3 (not done).  The replica is frozen inside its 20th sync
# (held by faultfs until the SIGSTOP is sent), so a batch of the client's
# provably has no reply; the upload needs over 100 syncs (4000 batches,
# at most 32 a sync).
t_stop_while_waiting() {
	local rc
	fs_setup 1 20000 || return
	replicas 1 2
	faultfs_arm "$TD/ctl" "fdatasync hold after 20"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=5 \
	    CLI_TIMEOUT=60s
	faultfs_held "$TD/faultfs.log" fdatasync >/dev/null ||
	    { bad "the replica never reached its 20th sync"; return; }
	kill -STOP "${SPID[srv1]}"
	# The sync returns into a stopped process: the reply is never sent.
	faultfs_arm "$TD/ctl"
	kill -TERM "${CPID[1]}"
	wait_pid "${CPID[1]}" 10
	rc=$?
	kill -CONT "${SPID[srv1]}"
	[ $rc -eq 3 ] || bad "client waiting for a reply exited $rc on SIGTERM," \
	    "want 3"
	grep -q 'action: shutdown | result: success' "$TD/client-1.log" ||
	    bad "client logged no shutdown"
}

# ---- a state directory on faultfs: the errors of a network filesystem ----

# fs_setup AGENCIES BETS: agency files, and faultfs over $TD/back mounted
# at $TD/state (the replicas' STATE_DIR) with its faults in $TD/ctl.  1,
# with a skip, when this host has no FUSE or no faultfs.
fs_setup() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null ||
	    ! tool faultfs >/dev/null; then
		echo "no /dev/fuse, fusermount3 or faultfs here: not run" >"$TD/.skip"
		return 1
	fi
	gen "$1" "$2"
	faultfs_mount "$TD/back" "$TD/state" "$TD/ctl" "$TD/faultfs.log" &&
	    return 0
	if grep -qE 'device not found|not permitted|Permission denied' \
	    "$TD/faultfs.log"; then
		echo "FUSE mounts not allowed here: not run" >"$TD/.skip"
	else
		bad "faultfs did not mount ($(tail -n 2 "$TD/faultfs.log"))"
	fi
	return 1
}

# batch_of AGENCY FROM N: the StoreBatchAt of rows FROM..FROM+N-1 (from 0)
# of the agency's file.
batch_of() {
	printf 'StoreBatchAt:%s:%s' "$1" "$2"
	sed -n "$(($2 + 1)),$(($2 + $3))p" "$TD/data/agency-$1.csv" |
	    tr -d '\r' | tr , ';' | sed 's/^/:/' | tr -d '\n'
}

# rows_of AGENCY FROM N: the same rows as bets.csv stores them.
rows_of() {
	sed -n "$(($2 + 1)),$(($2 + $3))p" "$TD/data/agency-$1.csv" |
	    sed "s/^/$1,/"
}

# fsize FILE: its size in bytes.
fsize() {
	stat -c %s "$1"
}

# kept_prefix SIZE0 AGENCY FROM N: the bytes of bets.csv past SIZE0 are
# more than nothing and a prefix of the rows of that batch: what a write
# stored before it failed is still there.
kept_prefix() {
	local f=$TD/back/bets.csv extra
	extra=$(($(fsize "$f") - $1))
	if [ $extra -le 0 ]; then
		bad "bets.csv cut back to $(fsize "$f") bytes (was $1 before" \
		    "the batch): the bytes written before the failure are gone"
		return
	fi
	cmp -s -n $extra <(tail -c +$(($1 + 1)) "$f") <(rows_of "$2" "$3" "$4") ||
	    bad "the $extra bytes past the acknowledged rows are not the batch's"
}

# t: normal runs on faultfs with nothing armed: OFD locks work on the
# mount, and two replicas on it store three agencies exactly.
t_fs_cluster() {
	local a lc
	fs_setup 3 9000 || return
	lc=$(tool lockcheck) || { bad "no lockcheck tool"; return; }
	"$lc" "$TD/state/lockcheck" >"$TD/lockcheck.log" 2>&1 ||
	    bad "OFD locks on the mount: $(cat "$TD/lockcheck.log")"
	rm -f "$TD/state/lockcheck"
	replicas 2 3
	for a in 1 2 3; do
		start_client $a "${PORT[$(((a - 1) % 2 + 1))]}" "$TD/data"
	done
	wait_clients 120 1 2 3
	check_store 3
	check_winners "${PORT[1]}" 3
	sorteo_once
}

# fs_fault_case RULE ERRTEXT: a replica on faultfs acknowledges a batch;
# with RULE armed the next batch is never acknowledged, and the replica
# exits non-zero within 5 s logging ERRTEXT (it cannot trust its lock or
# its file any more).  A failed write is not cut back.  Restarted with the
# fault gone, it reports the acknowledged rows, maybe plus the refused
# batch's (they may have reached the file), and the clients end with every
# row stored exactly once.
fs_fault_case() {
	local rule=$1 errtext=$2 port r rc n size0
	fs_setup 2 4000 || return
	port=$(free_port)
	start_server srv1 "$port" "$TD/state" 2 ||
	    { bad "replica did not start ($(tail -n 2 "$TD/srv1.log"))"; return; }
	r=$(req "$port" "$(batch_of 1 0 40)")
	[ "$r" = StoreResponse:0 ] || bad "batch before the fault: '$r'"
	size0=$(fsize "$TD/back/bets.csv")
	faultfs_arm "$TD/ctl" "$rule"
	r=$(req "$port" "$(batch_of 1 40 40)")
	[ "$r" != StoreResponse:0 ] || bad "batch acknowledged with '$rule'"
	grep -q "faultfs: ${rule%% *} /bets.csv" "$TD/faultfs.log" ||
	    bad "'$rule' never hit bets.csv"
	wait_pid "${SPID[srv1]}" 5
	rc=$?
	if [ $rc -eq 124 ]; then
		bad "replica still running 5 s after '$rule' (reply '$r')"
	elif [ $rc -eq 0 ]; then
		bad "replica exited 0 after '$rule'"
	fi
	grep -qE "(CRITICAL|ERROR) action: [a-z_]+ \| result: fail.*$errtext" \
	    "$TD/srv1.log" || bad "no error line with '$errtext' logged"
	case $rule in
	*short*) kept_prefix "$size0" 1 40 40 ;;
	esac
	faultfs_arm "$TD/ctl"
	start_server srv1 "$port" "$TD/state" 2 ||
	    { bad "replica did not restart"; return; }
	r=$(req "$port" AgencyStatus:1)
	n=${r#AgencyStatusResponse:}
	n=${n%;0}
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 40 ] && [ "$n" -le 80 ] ||
	    bad "status after the restart '$r', want 40 to 80 rows, open"
	start_client 1 "$port" "$TD/data"
	start_client 2 "$port" "$TD/data"
	wait_clients 120 1 2
	check_store 2
	sorteo_once
}

t_fs_eio() {
	fs_fault_case "fdatasync EIO" "Input/output error"
}

# The write stores half its bytes, then fails: those bytes stay.
t_fs_write_eio() {
	fs_fault_case "write EIO short" "Input/output error"
}

t_fs_estale() {
	fs_fault_case "write ESTALE" "Stale file handle"
}

t_fs_enotconn() {
	fs_fault_case "fdatasync ENOTCONN" "Transport endpoint is not connected"
}

# A full disk or quota (a short write, then ENOSPC or EDQUOT) is the one
# write error the replica survives: the batch is refused, the file cut
# back to its last whole row, and the same batch stored once space is
# back.  Any other write error (EIO here) exits without cutting anything.
t_fs_enospc_only_truncates() {
	local port r pos=40 rule size0 rc
	fs_setup 1 4000 || return
	port=$(free_port)
	start_server srv1 "$port" "$TD/state" 1 ||
	    { bad "replica did not start ($(tail -n 2 "$TD/srv1.log"))"; return; }
	r=$(req "$port" "$(batch_of 1 0 40)")
	[ "$r" = StoreResponse:0 ] || bad "first batch: '$r'"
	for rule in "write ENOSPC short" "write EDQUOT short"; do
		size0=$(fsize "$TD/back/bets.csv")
		faultfs_arm "$TD/ctl" "$rule"
		r=$(req "$port" "$(batch_of 1 $pos 40)")
		[ "$r" = StoreResponse:1 ] || bad "'$rule': reply '$r'"
		grep -q "faultfs: write /bets.csv: ${rule#write }" \
		    "$TD/faultfs.log" || bad "'$rule' did not write half a batch"
		[ "$(fsize "$TD/back/bets.csv")" -eq "$size0" ] ||
		    bad "'$rule' left $(fsize "$TD/back/bets.csv") bytes, want" \
		    "$size0 (the last whole row)"
		faultfs_arm "$TD/ctl"
		r=$(req "$port" "$(batch_of 1 $pos 40)")
		[ "$r" = StoreResponse:0 ] || bad "after '$rule' was lifted: '$r'"
		pos=$((pos + 40))
	done
	size0=$(fsize "$TD/back/bets.csv")
	faultfs_arm "$TD/ctl" "write EIO short"
	r=$(req "$port" "$(batch_of 1 $pos 40)")
	[ "$r" != StoreResponse:0 ] || bad "batch acknowledged after EIO"
	wait_pid "${SPID[srv1]}" 5
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] ||
	    bad "replica status $rc after a write EIO, want an exit != 0"
	kept_prefix "$size0" 1 $pos 40
	faultfs_arm "$TD/ctl"
	start_server srv1 "$port" "$TD/state" 1 ||
	    { bad "replica did not restart"; return; }
	start_client 1 "$port" "$TD/data"
	wait_clients 120 1
	check_store 1
}

# Replica 1 indexes bets.csv, replica 2 appends acknowledged rows, and
# replica 1's next scan reads a stale end of file once (as a network
# filesystem's client cache can) while the size is current.  The bytes
# past what it indexed hold whole lines: they are no torn tail, and
# cutting them would lose acknowledged rows.
t_tail_not_cut() {
	local r n
	fs_setup 2 4000 || return
	replicas 2 2
	r=$(req "${PORT[1]}" "$(batch_of 1 0 40)")
	[ "$r" = StoreResponse:0 ] || bad "replica 1's batch: '$r'"
	r=$(req "${PORT[2]}" "$(batch_of 2 0 40)")
	[ "$r" = StoreResponse:0 ] || bad "replica 2's batch: '$r'"
	faultfs_arm "$TD/ctl" "read stale times 1"
	r=$(req "${PORT[1]}" "$(batch_of 1 40 40)")
	echo "replica 1 after the stale read: '$r'" >"$TD/reply"
	grep -q 'faultfs: read /bets.csv: stale' "$TD/faultfs.log" ||
	    bad "the stale read never hit bets.csv"
	n=$(grep -c '^2,' "$TD/back/bets.csv")
	[ "$n" -eq 40 ] ||
	    bad "$n of agency 2's 40 acknowledged rows left after the stale read"
	n=$(csv_check "$TD/back/bets.csv") || bad "bets.csv line $n is torn"
	faultfs_arm "$TD/ctl"
	kill -0 "${SPID[srv1]}" 2>/dev/null ||
	    start_server srv1 "${PORT[1]}" "$TD/state" 2 ||
	    bad "replica 1 did not restart"
	start_client 1 "${PORT[1]}" "$TD/data"
	start_client 2 "${PORT[2]}" "$TD/data"
	wait_clients 120 1 2
	check_store 2
	sorteo_once
}

# p: an operator empties both files; another agency regrows bets.csv past
# what a replica had indexed.  That replica must notice the rewrite and
# reindex, so agency 1 resends everything and gets its winners.
t_reset_regrow() {
	gen 2 6000
	replicas 2 2
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=20
	wait_lines "$TD/state/bets.csv" 600 60 || bad "upload did not start"
	kill -9 "${CPID[1]}"
	wait "${CPID[1]}" 2>/dev/null
	[ "$(req "${PORT[1]}" AgencyStatus:1)" != "AgencyStatusResponse:0;0" ] ||
	    bad "replica 1 indexed nothing before the reset"
	: >"$TD/state/bets.csv"
	: >"$TD/state/agencies_closed.txt"
	start_client 2 "${PORT[2]}" "$TD/data"
	wait_lines "$TD/state/bets.csv" "$(expected 2 2)" 60 ||
	    bad "agency 2 did not regrow bets.csv"
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_clients 60 1 2
	check_store 2
	check_winners "${PORT[1]}" 2
	grep -q 'action: reindex' "$TD/srv1.log" ||
	    bad "replica 1 logged no reindex"
}

# q: bets.csv replaced under running replicas (mv, sed -i): every replica
# appends to the file the path names, and all agree on the counts.
t_file_replaced() {
	local f=$TD/state/bets.csv r
	replicas 2 5
	r=$(req "${PORT[1]}" "StoreBatchAt:1:0:Ana;Paz;20000001;1990-01-01;1")
	[ "$r" = StoreResponse:0 ] || bad "first store: '$r'"
	cp "$f" "$TD/copy" && mv "$TD/copy" "$f"
	r=$(req "${PORT[1]}" "StoreBatchAt:1:1:Bea;Paz;20000002;1990-01-01;2")
	[ "$r" = StoreResponse:0 ] || bad "store after mv: '$r'"
	sed -i 's/^1,Ana,/1,Ana,/' "$f"
	r=$(req "${PORT[1]}" "StoreBatchAt:1:2:Cid;Paz;20000003;1990-01-01;3")
	[ "$r" = StoreResponse:0 ] || bad "store after sed -i: '$r'"
	[ "$(lines "$f")" -eq 3 ] || bad "bets.csv has $(lines "$f") rows, want 3"
	for r in 1 2; do
		[ "$(req "${PORT[$r]}" AgencyStatus:1)" = \
		    "AgencyStatusResponse:3;0" ] ||
		    bad "replica $r: '$(req "${PORT[$r]}" AgencyStatus:1)'"
	done
	grep -q 'action: reopen | result: success' "$TD/srv1.log" ||
	    bad "replica 1 logged no reopen"
}

# r: replicas of one state directory must agree on AGENCIES_AMOUNT.
t_agencies_meta() {
	local port
	replicas 1 5
	grep -qx 'AGENCIES_AMOUNT=5' "$TD/state/cluster.meta" 2>/dev/null ||
	    bad "cluster.meta does not record AGENCIES_AMOUNT=5"
	port=$(free_port)
	server_conf "$TD/seven.ini" "$port" "$TD/state" 7
	refuses "AGENCIES_AMOUNT=7 on a directory of 5" \
	    'AGENCIES_AMOUNT=5.*AGENCIES_AMOUNT=7' "$BIN/server" -c "$TD/seven.ini"
	start_server srv2 "$(free_port)" "$TD/state" 5 ||
	    bad "a second replica with the same count did not start"
}

# bets_locked_by_stopped: 0 when a write lock is held on bets.csv (the
# only writer being the stopped replica, it is that replica's).
bets_write_locked() {
	local ino
	ino=$(stat -c %i "$TD/state/bets.csv")
	grep -qE "OFDLCK +ADVISORY +WRITE .*:$ino " /proc/locks
}

# bets_lock_waited: 0 when some process waits for a lock on bets.csv.
bets_lock_waited() {
	local ino
	ino=$(stat -c %i "$TD/state/bets.csv")
	grep -qE -- "-> +OFDLCK .*:$ino " /proc/locks
}

# s: a replica frozen while it holds the bets.csv lock: the others answer
# within LOCK_TIMEOUT (StoreResponse:1, connection usable), stop on
# SIGTERM in seconds, and once it resumes everything completes exactly.
t_frozen_lock() {
	local r t0 rc
	# The lock is held only for the append: faultfs holds replica 1
	# inside its 20th write until it is stopped, so it is caught with
	# the lock (the upload takes over 60 writes: 2000 batches, at most
	# 32 a write).
	fs_setup 2 20000 || return
	replicas 2 2 LOCK_TIMEOUT=1s
	faultfs_arm "$TD/ctl" "write hold pid ${SPID[srv1]} after 20"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=5
	faultfs_held "$TD/faultfs.log" write >/dev/null ||
	    { bad "replica 1 never reached its 20th write"; return; }
	kill -STOP "${SPID[srv1]}"
	faultfs_arm "$TD/ctl"
	grep -q '^faultfs: write /bets.csv: held' "$TD/faultfs.log" ||
	    bad "the held write is not of bets.csv"
	bets_write_locked || { bad "replica 1 frozen without the lock"; return; }
	t0=$(date +%s)
	r=$(req "${PORT[2]}" AgencyStatus:2 Echo:still-here)
	[ "$r" = $'StoreResponse:1\nEcho:still-here' ] ||
	    bad "status on replica 2 while the lock is held: '$(echo $r)'"
	r=$(req "${PORT[2]}" "StoreBatchAt:2:0:Ana;Paz;20000001;1990-01-01;1" Echo:x)
	[ "$r" = $'StoreResponse:1\nEcho:x' ] ||
	    bad "store on replica 2 while the lock is held: '$(echo $r)'"
	[ $(($(date +%s) - t0)) -le 6 ] || bad "replica 2 took $(($(date +%s) - t0)) s"
	grep -q 'action: lock | result: fail' "$TD/srv2.log" ||
	    bad "replica 2 logged no lock timeout"
	# An orderly stop does not wait for the lock.
	send_only "${PORT[2]}" "StoreBatchAt:2:0:Ana;Paz;20000001;1990-01-01;1"
	kill -TERM "${SPID[srv2]}"
	wait_pid "${SPID[srv2]}" 4
	rc=$?
	[ $rc -eq 0 ] || bad "replica 2 exited $rc on SIGTERM while the lock was held"
	start_server srv2 "${PORT[2]}" "$TD/state" 2 LOCK_TIMEOUT=1s ||
	    bad "replica 2 did not restart"
	kill -CONT "${SPID[srv1]}"
	start_client 2 "${PORT[2]}" "$TD/data"
	wait_clients 120 1 2
	check_store 2
	check_winners "${PORT[2]}" 2
	sorteo_once
}

# p: a MAX_CONNECTIONS the descriptor limit cannot honour refuses to
# start, naming both numbers; a low soft limit under a high hard one is
# raised instead.
t_fd_limit() {
	local port pid soft n
	port=$(free_port)
	mkdir -p "$TD/state"
	server_conf "$TD/s.ini" "$port" "$TD/state" 5
	refuses "MAX_CONNECTIONS=64 under a limit of 32" \
	    'MAX_CONNECTIONS 64.*\b32\b' \
	    prlimit --nofile=32:32 "$BIN/server" -c "$TD/s.ini"
	prlimit --nofile=32:4096 "$BIN/server" -c "$TD/s.ini" \
	    >>"$TD/srv1.log" 2>&1 &
	pid=$!
	PIDS+=($pid)
	for ((n = 0; n < 50; n++)); do
		[ "$(req "$port" Echo:up 2>/dev/null)" = Echo:up ] && break
		sleep 0.1
	done
	[ $n -lt 50 ] || bad "server under a soft limit of 32 did not start"
	soft=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
	[ "$soft" = 4096 ] || bad "soft descriptor limit $soft, want 4096"
}

# fd_phase PID PORT LIMIT WHAT: with the replica's soft descriptor limit
# set to LIMIT, 40 peers connect; over 3 s it may use 0.5 s of CPU and log
# 8 lines at most.  (Soft only: lowering the hard limit could not be undone
# without CAP_SYS_RESOURCE.)
fd_phase() {
	local pid=$1 port=$2 limit=$3 what=$4 t0 t1 l0 l1 holder
	prlimit --pid "$pid" --nofile="$limit:" ||
	    { bad "$what: prlimit failed"; return; }
	t0=$(cpu_ticks "$pid")
	l0=$(lines "$TD/srv1.log")
	hold "$port" 30 40
	holder=$!
	sleep 3
	t1=$(cpu_ticks "$pid")
	l1=$(lines "$TD/srv1.log")
	[ $((t1 - t0)) -le 50 ] ||
	    bad "$what: $((t1 - t0)) ticks of CPU in 3 s, the accept loop spins"
	kill "$holder" 2>/dev/null
	[ $((l1 - l0)) -le 8 ] && return 0
	bad "$what: $((l1 - l0)) log lines in 3 s"
	# A spinning replica writes megabytes a second: stop it, keep a sample.
	kill -9 "$pid"
	head -n 200 "$TD/srv1.log" >"$TD/srv1.head" &&
	    mv "$TD/srv1.head" "$TD/srv1.log"
	return 1
}

# conn_fds PID: how many of the process's descriptors are TCP sockets
# other than listening ones: its connections.
conn_fds() {
	local fd l n=0
	for fd in /proc/"$1"/fd/*; do
		l=$(readlink "$fd" 2>/dev/null) || continue
		case $l in socket:\[*\]) ;; *) continue ;; esac
		l=${l#socket:[}
		awk -v i="${l%]}" '$10 == i && $4 != "0A" { f = 1 }
		    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null &&
		    n=$((n + 1))
	done
	echo $n
}

# q: out of descriptors (the limit lowered under a running replica), a
# crowd of peers neither spins a core nor floods the log: first with room
# for the spare descriptor only, so connections are shed at once, then
# with none at all; with the limit back it serves again.
t_fd_exhaustion() {
	local pid port n r hard
	replicas 1 5
	pid=${SPID[srv1]} port=${PORT[1]}
	hard=$(awk '/^Max open files/ { print $5 }' "/proc/$pid/limits")
	# The start-up Echo's descriptor must be closed first.
	for ((n = 0; n < 300; n++)); do
		[ "$(conn_fds "$pid")" -eq 0 ] && break
		sleep 0.1
	done
	[ $n -lt 300 ] || bad "the replica kept a connection open"
	# The lowest free descriptor: the limit that leaves no room.
	n=$(ls "/proc/$pid/fd" | sort -n |
	    awk 'BEGIN { n = 0 } $1 == n { n++ } END { print n }')
	fd_phase "$pid" "$port" "$n" "limit $n (no room)" || return
	r=$(req "$port" Echo:shed 2>/dev/null)
	[ "$r" = "<closed>" ] || bad "out of descriptors, a peer got '$r'"
	grep -q 'action: accept | result: fail .*rechazadas: [1-9]' \
	    "$TD/srv1.log" || bad "no shed connections logged"
	fd_phase "$pid" "$port" 3 "limit 3" || return
	prlimit --pid "$pid" --nofile="$hard:" || bad "prlimit back failed"
	for ((n = 0; n < 30; n++)); do
		r=$(req "$port" Echo:back 2>/dev/null)
		[ "$r" = Echo:back ] && break
		sleep 0.2
	done
	[ "$r" = Echo:back ] || bad "limit raised again, Echo got '$r'"
}

# r: peers sending only Echo every 0.5 s do not hold every slot: each is
# closed CONN_TIMEOUT after its accept and a real agency then completes.
t_echo_hold() {
	local i r round t0 c
	c=$(tool lotteryctl) || { bad "no lotteryctl"; return; }
	gen 1 2000
	replicas 1 1 MAX_CONNECTIONS=4 CONN_TIMEOUT=2s
	# Four peers, each served its first Echo, hold every slot until their
	# 2 s run out.  A fifth let in is a failure only when no timeout came
	# before it; else this machine was slower than 2 s, and the round is
	# played again.
	for ((round = 1; round <= 5; round++)); do
		t0=$(grep -c 'motivo: idle timeout' "$TD/srv1.log")
		HOLDERS=()
		for ((i = 1; i <= 4; i++)); do
			"$c" -a "127.0.0.1:${PORT[1]}" -w 0.5 send \
			    $(printf 'Echo:%d ' $(seq 80)) \
			    >"$TD/holder-$round-$i.out" 2>/dev/null &
			PIDS+=($!)
			HOLDERS+=($!)
		done
		for ((i = 1; i <= 4; i++)); do
			wait_log "$TD/holder-$round-$i.out" '^Echo:1$' 30 ||
			    bad "holder $i was not served"
		done
		r=$(req "${PORT[1]}" Echo:fifth)
		[ "$r" = "BusyResponse:250" ] && break
		[ "$(grep -c 'motivo: idle timeout' "$TD/srv1.log")" -gt "$t0" ] ||
		    { bad "a fifth connection got '$r' with 4 held"; break; }
		kill "${HOLDERS[@]}" 2>/dev/null
		wait "${HOLDERS[@]}" 2>/dev/null
		echo "round $round: a holder timed out before the fifth came" \
		    >>"$TD/rounds"
		# Every slot free again before the next round.
		for ((i = 0; i < 300; i++)); do
			[ "$(conn_fds "${SPID[srv1]}")" -eq 0 ] && break
			sleep 0.1
		done
	done
	[ $round -le 5 ] || bad "no round held all 4 slots until the fifth came"
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'motivo: idle timeout' "$TD/srv1.log")" -ge 4 ] &&
		    break
		sleep 0.1
	done
	[ $i -lt 300 ] || bad "the Echo-only connections were not timed out"
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_clients 20 1
	check_store 1
}

# s: MAX_CONNECTIONS_PER_PEER caps one address, not the others.
t_peer_cap() {
	local r
	replicas 1 5 MAX_CONNECTIONS_PER_PEER=2 LOGGING_LEVEL=DEBUG \
	    CONN_TIMEOUT=60s
	hold_served "${PORT[1]}" 2 || { bad "the holders were not served"; return; }
	r=$(req "${PORT[1]}" Echo:third)
	[ "$r" = "BusyResponse:250" ] ||
	    bad "third connection from 127.0.0.1 got '$r', want BusyResponse:250"
	wait_log "$TD/srv1.log" 'peer: 127\.0\.0\.1/[0-9]+ \| motivo: too many connections from' 10 ||
	    bad "refused connection not logged"
	r=$(req_from 127.0.0.2 "${PORT[1]}" Echo:other)
	[ "$r" = Echo:other ] || bad "connection from 127.0.0.2 got '$r'"
	grep -q 'action: echo | result: success | peer: 127\.0\.0\.2/' \
	    "$TD/srv1.log" || bad "no Echo served to 127.0.0.2"
	kill "${HOLDERS[@]}"
	echo_until "${PORT[1]}" again 30 || bad "no Echo served after the holders left"
}

# t: AgencyClose never gets a reply, not even a refused one, so replies
# stay paired with requests on a connection.
t_close_no_reply() {
	local r
	replicas 1 5
	r=$(req_pipe "${PORT[1]}" 2 AgencyClose:99 AgencyClose:x Echo:x \
	    AgencyClose:2 Echo:y)
	[ "$r" = $'Echo:x\nEcho:y' ] || bad "replies '$(echo $r)', want Echo:x Echo:y"
	grep -q 'result: fail .*tipo: AgencyClose | motivo: unknown agency 99' \
	    "$TD/srv1.log" || bad "the close of agency 99 not logged as failed"
	grep -q 'result: fail .*tipo: AgencyClose | motivo: bad agency' \
	    "$TD/srv1.log" || bad "the malformed close not logged as failed"
	r=$(req "${PORT[1]}" AgencyStatus:2)
	[ "$r" = "AgencyStatusResponse:0;1" ] || bad "agency 2 status '$r'"
}

# u: an agency with 1080 winners: WinnersRequest is refused and the
# connection kept; WinnersPage pages give every winner in order.
t_winners_pages() {
	local i b batch pos=0 docs="" want="" r start=0 total=-1 body k
	replicas 1 2
	for ((b = 0; b < 6; b++)); do
		batch=""
		for ((i = 0; i < 200; i++)); do
			k=$((b * 200 + i))
			if [ $((k % 10)) -eq 9 ]; then
				batch="$batch:Ana;Paz;$((4000000000 + k));1990-01-01;1234"
			else
				batch="$batch:Ana;Paz;$((3000000000 + k));1990-01-01;7574"
				want="$want;$((3000000000 + k))"
			fi
		done
		r=$(req "${PORT[1]}" "StoreBatchAt:1:$pos$batch")
		[ "$r" = StoreResponse:0 ] || bad "batch $b: '$r'"
		pos=$((pos + 200))
	done
	want=${want#;}
	r=$(req "${PORT[1]}" WinnersPage:1:0)
	[ "$r" = NotReadyResponse: ] || bad "page before the draw: '$r'"
	send_only "${PORT[1]}" AgencyClose:1
	send_only "${PORT[1]}" AgencyClose:2
	wait_log "$TD/srv1.log" 'action: sorteo \| result: success' 5 ||
	    bad "no draw"
	r=$(req "${PORT[1]}" WinnersRequest:1 Echo:kept)
	[ "$r" = $'StoreResponse:1\nEcho:kept' ] ||
	    bad "WinnersRequest of 1080 winners: '$(echo $r | head -c 80)'"
	grep -q 'action: consulta_ganadores | result: fail .*do not fit' \
	    "$TD/srv1.log" || bad "the refused WinnersRequest not logged"
	for ((i = 0; i < 10 && start != total; i++)); do
		r=$(req "${PORT[1]}" "WinnersPage:1:$start")
		body=${r#WinnersPageResponse:}
		[ "$body" != "$r" ] || { bad "page at $start: '$r'"; break; }
		total=${body%%;*}
		[ "$body" = "$total" ] && break
		body=${body#*;}
		docs="$docs;$body"
		k=$(echo "$body" | tr ';' '\n' | wc -l)
		start=$((start + k))
	done
	[ "$total" = 1080 ] || bad "total '$total', want 1080"
	[ "$i" -ge 2 ] || bad "1080 winners came in $i page(s)"
	[ "${docs#;}" = "$want" ] || bad "paged documents differ from the winners"
	r=$(req "${PORT[1]}" WinnersPage:1:1080 WinnersPage:2:0)
	[ "$r" = $'WinnersPageResponse:1080\nWinnersPageResponse:0' ] ||
	    bad "pages past the end: '$(echo $r)'"
}

# v: SIGTERM stops a replica within 3 s though a peer sends requests and
# never reads the replies, so a reply is blocked in send().
t_stop_frozen_peer() {
	local pid n rc
	replicas 1 5 CONN_TIMEOUT=30s
	pid=${SPID[srv1]}
	ctl_bg -a "127.0.0.1:${PORT[1]}" flood 30 \
	    "Echo:$(printf 'x%.0s' $(seq 8000))"
	# Replies pile up unsent: the replica is blocked in send().
	for ((n = 0; n < 100; n++)); do
		[ "$(send_queue "${PORT[1]}")" -gt 1000000 ] && break
		sleep 0.1
	done
	[ $n -lt 100 ] || bad "the replica never blocked writing a reply"
	sleep 0.5
	kill -TERM "$pid"
	wait_pid "$pid" 3
	rc=$?
	[ $rc -eq 0 ] || bad "replica exited $rc after SIGTERM, want 0 within 3 s"
}

# ---- the client against replicas that fail it ----

# The hostile peer is a test tool: taken from build/bin when BIN lacks it.
PEER=$BIN/badpeer
[ -x "$PEER" ] || PEER=$(pwd)/build/bin/badpeer

# start_badpeer IP PORT once|repeat PAYLOAD...: scripts/badpeer.c on
# IP:PORT, answering the i-th frame of each connection with the i-th
# payload (repeat: the last one forever; no payload: hang up at once).
start_badpeer() {
	local ip=$1 port=$2 r= i
	[ "$3" = repeat ] && r=-r
	shift 3
	"$PEER" $r -- "$ip" "$port" "$@" >>"$TD/badpeer.log" 2>&1 &
	PIDS+=($!)
	for ((i = 0; i < 50; i++)); do
		ctl -a "$ip:$port" hold 0 && return 0
		sleep 0.1
	done
	bad "badpeer did not listen on $ip:$port"
	return 1
}

# hosts_file NAME IP...: $TD/hosts gives NAME these addresses; 1 when
# getaddrinfo, in a mount namespace using that file, does not return them
# all (what a client started with CLIENT_HOSTS=$TD/hosts will see).
hosts_file() {
	local name=$1 ip got want
	shift
	{
		echo "127.0.0.1 localhost"
		for ip in "$@"; do
			echo "$ip $name"
		done
	} >"$TD/hosts"
	got=$(unshare --mount sh -c \
	    'mount --bind "$1" /etc/hosts && getent ahostsv4 "$2"' \
	    sh "$TD/hosts" "$name" | awk '{ print $1 }' | sort -u | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
	[ "$got" = "$want" ]
}

# need_unshare: 0 when this shell may make mount namespaces (root); else
# the test is marked skipped.
need_unshare() {
	unshare --mount true 2>/dev/null && return 0
	echo "cannot unshare a mount namespace here" >"$TD/.skip"
	return 1
}

# p: the server's name gives three replicas; the one the client uploads to
# is frozen (SIGSTOP) mid-file.  The client resolves again, moves on to
# another replica and finishes exactly while the frozen one stays stopped.
# Whichever replica serves it is held inside its 10th sync of bets.csv
# (faultfs) and frozen there: a batch written, unanswered, with no file
# lock held (the locks go before the sync), so the freeze is mid-upload.
t_rotation() {
	local port i rc srv live pid fails
	need_unshare || return
	fs_setup 1 20000 || return
	port=$(free_port)
	for i in 1 2 3; do
		start_server srv$i "$port" "$TD/state" 1 SERVER_IP=127.0.0.$i ||
		    bad "replica $i did not start on 127.0.0.$i"
	done
	hosts_file lottery-server 127.0.0.1 127.0.0.2 127.0.0.3 || {
		bad "getaddrinfo does not give lottery-server 3 addresses"
		return
	}
	faultfs_arm "$TD/ctl" "fdatasync hold after 10"
	CLIENT_HOST=lottery-server CLIENT_HOSTS=$TD/hosts \
	    start_client 1 "$port" "$TD/data" CLI_BATCH_MAXAMOUNT=5 \
	    CLI_TIMEOUT=2s
	pid=$(faultfs_held "$TD/faultfs.log" fdatasync) ||
	    { bad "no replica reached its 10th sync"; return; }
	srv=
	for i in 1 2 3; do
		[ "${SPID[srv$i]}" = "$pid" ] && srv=srv$i
	done
	[ -n "$srv" ] || { bad "the held sync is no replica's (pid $pid)"; return; }
	grep -q "^faultfs: fdatasync /bets.csv: held .*pid $pid)" \
	    "$TD/faultfs.log" || bad "the held sync is not of bets.csv"
	fails=$(grep -c 'result: fail' "$TD/client-1.log")
	kill -STOP "$pid"
	# The sync returns into a stopped process: its reply is never sent.
	faultfs_arm "$TD/ctl"
	live=127.0.0.$(( ${srv#srv} % 3 + 1 ))
	wait_pid "${CPID[1]}" 60
	rc=$?
	[ $rc -eq 0 ] || bad "client exited $rc with $srv frozen" \
	    "($(tail -n 2 "$TD/client-1.log" | tr '\r\n' '  '))"
	[ "$(awk '{ print $3 }' "/proc/${SPID[$srv]}/stat")" = T ] ||
	    bad "the frozen replica $srv was not stopped to the end"
	[ "$(grep -c 'result: fail' "$TD/client-1.log")" -gt "$fails" ] ||
	    bad "the client logged no failure on the frozen replica"
	kill -CONT "${SPID[$srv]}"
	check_store 1
	REQ_HOST=$live check_winners "$port" 1
}

# q: replicas that fail every attempt without any progress: the client
# gives up after retry_max failures in a row, exit status 1, the cause
# logged.  One answers AgencyStatus and drops every batch (a status is not
# progress), one drops every request, and one port refuses connections.
t_retry_max() {
	local port rc id=0 case
	gen 1 1000
	for case in status drop refuse; do
		id=$((id + 1))
		port=$(free_port)
		case $case in
		status) start_badpeer 127.0.0.1 "$port" once \
		    'AgencyStatusResponse:0;0' ;;
		drop) start_badpeer 127.0.0.1 "$port" once ;;
		esac
		[ $id -eq 1 ] ||
		    cp "$TD/data/agency-1.csv" "$TD/data/agency-$id.csv"
		start_client $id "$port" "$TD/data" CLI_RETRY_MAX=5
		wait_pid "${CPID[$id]}" 30
		rc=$?
		[ $rc -eq 1 ] || bad "$case: client exited $rc, want 1"
		grep -qE 'action: reconnect \| result: fail \| intentos: 5 \| .*motivo: ' \
		    "$TD/client-$id.log" || bad "$case: no give-up line with its cause"
	done
	[ "$(grep -c 'agency_status | result: success' "$TD/client-1.log")" \
	    -eq 5 ] || bad "status: not 5 sessions before giving up"
}

# r: a reply that does not parse exactly is refused: a negative count is
# not read as a huge one (no row logged as sent), and bad winner pages are
# not counted.  Each peer answers the same way every time, so the client
# gives up with status 1.
t_bad_reply() {
	local port rc id=0 p
	mkdir -p "$TD/data"
	printf '%s\r\n' "Ana,Paz,30000001,1990-01-01,7574" \
	    "Bob,Paz,30000002,1990-01-01,1" "Cid,Paz,30000003,1990-01-01,2" \
	    >"$TD/data/agency-1.csv"
	for p in 'AgencyStatusResponse:-5;0' 'AgencyStatusResponse:+5;0' \
	    'AgencyStatusResponse:18446744073709551617;0' \
	    'AgencyStatusResponse:3;2' 'AgencyStatusResponse:3;0 ' \
	    'StoreResponse:01' \
	    'WinnersPageResponse:2;123;;4' 'WinnersPageResponse:5' \
	    'WinnersPageResponse:1;12345678901' 'WinnersPageResponse:x;1'; do
		id=$((id + 1))
		port=$(free_port)
		case $p in
		Winners*) start_badpeer 127.0.0.1 "$port" once \
		    'AgencyStatusResponse:3;0' '' "$p" ;;
		*) start_badpeer 127.0.0.1 "$port" once "$p" ;;
		esac
		[ $id -eq 1 ] ||
		    cp "$TD/data/agency-1.csv" "$TD/data/agency-$id.csv"
		start_client $id "$port" "$TD/data" CLI_RETRY_MAX=3
		wait_pid "${CPID[$id]}" 30
		rc=$?
		[ $rc -eq 1 ] || bad "'$p': client exited $rc, want 1"
		grep -q 'carga_finalizada | result: success' \
		    "$TD/client-$id.log" && [ "${p#Winners}" = "$p" ] &&
		    bad "'$p': rows logged as sent"
		grep -q 'cant_ganadores' "$TD/client-$id.log" &&
		    bad "'$p': winners counted"
		grep -qE 'motivo: (malformed|unexpected) reply|motivo: empty page' \
		    "$TD/client-$id.log" || bad "'$p': refusal not logged"
	done
}

# s: a replica that refuses AgencyStatus (StoreResponse:1, as when its
# lock wait times out) is a failure to retry elsewhere, not the end: the
# next address of the name serves the whole upload.
t_refused_status() {
	local port rc
	need_unshare || return
	gen 1 2000
	port=$(free_port)
	start_badpeer 127.0.0.1 "$port" repeat 'StoreResponse:1'
	mkdir -p "$TD/state"
	start_server srv1 "$port" "$TD/state" 1 SERVER_IP=127.0.0.2 ||
	    bad "replica did not start on 127.0.0.2"
	hosts_file lottery-server 127.0.0.1 127.0.0.2 || {
		bad "getaddrinfo does not give lottery-server 2 addresses"
		return
	}
	CLIENT_HOST=lottery-server CLIENT_HOSTS=$TD/hosts \
	    start_client 1 "$port" "$TD/data"
	wait_pid "${CPID[1]}" 60
	rc=$?
	[ $rc -eq 0 ] || bad "client exited $rc" \
	    "($(tail -n 2 "$TD/client-1.log" | tr '\r\n' '  '))"
	grep -q 'motivo: refused by server' "$TD/client-1.log" ||
	    bad "the refusal was not logged"
	grep -q 'modo: base' "$TD/client-1.log" &&
	    bad "a refusing replica was taken for a base-protocol one"
	check_store 1
	REQ_HOST=127.0.0.2 check_winners "$port" 1
}

# t: 1000 winners do not fit one frame: the client pages through them
# (WinnersPage) and logs the whole count.
t_many_winners() {
	local i rc
	mkdir -p "$TD/data"
	for ((i = 0; i < 1000; i++)); do
		printf 'Ana,Paz,%d,1990-01-01,7574\r\n' $((1000000000 + i))
	done >"$TD/data/agency-1.csv"
	replicas 1 1
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_pid "${CPID[1]}" 60
	rc=$?
	[ $rc -eq 0 ] || bad "client exited $rc" \
	    "($(tail -n 2 "$TD/client-1.log" | tr '\r\n' '  '))"
	grep -q 'cant_ganadores: 1000' "$TD/client-1.log" ||
	    bad "cant_ganadores: 1000 not logged"
	check_store 1
}

# u: a NUL byte inside a row rejects that row (reported by line number,
# exit 1); it is not cut at the NUL and sent.
t_nul_row() {
	local rc
	mkdir -p "$TD/data"
	{
		printf 'Ana,Paz,30000001,1990-01-01,7574\r\n'
		printf 'Bob,Paz,30000002,1990-01-01,12\0junk\r\n'
		printf 'Cid,Paz,30000003,1990-01-01,7574\r\n'
	} >"$TD/data/agency-1.csv"
	replicas 1 1
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_pid "${CPID[1]}" 60
	rc=$?
	[ $rc -eq 1 ] || bad "client exited $rc, want 1"
	grep -qE 'linea: 2 \| motivo: NUL' "$TD/client-1.log" ||
	    bad "row 2 not reported"
	grep -q 'enviadas: 2 | rechazadas: 1' "$TD/client-1.log" ||
	    bad "not 2 sent and 1 rejected"
	[ "$(cut -d, -f4 "$TD/state/bets.csv" 2>/dev/null | tr '\n' ' ')" = \
	    "30000001 30000003 " ] || bad "stored rows are not rows 1 and 3"
	grep -q 'cant_ganadores: 2' "$TD/client-1.log" ||
	    bad "cant_ganadores: 2 not logged"
}

# t3: a bet number with leading zeros is the number it pads: the client
# sends 07574 and 0042, the replica stores 7574 and 42 and counts 07574 as
# a winner; a raw StoreBet with 007574 is stored as 7574 too.
t_number_zeros() {
	local r
	mkdir -p "$TD/data"
	{
		printf 'Ana,Paz,30000001,1990-01-01,07574\r\n'
		printf 'Bob,Paz,30000002,1990-01-01,0042\r\n'
		printf 'Cid,Paz,30000003,1990-01-01,10\r\n'
	} >"$TD/data/agency-1.csv"
	replicas 1 2
	r=$(req "${PORT[1]}" "StoreBet:2;Dan;Paz;30000004;1990-01-01;007574")
	[ "$r" = StoreResponse:0 ] || bad "StoreBet with 007574: '$r'"
	as_agency "${PORT[1]}" 2 close 2 >/dev/null || bad "agency 2's close"
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_clients 30 1
	grep -q 'enviadas: 3 | rechazadas: 0' "$TD/client-1.log" ||
	    bad "not all 3 rows sent"
	[ "$(cut -d, -f6 "$TD/state/bets.csv" | tr -d '\r' | paste -sd' ')" = \
	    "7574 7574 42 10" ] || bad "stored numbers: $(cut -d, -f6 \
	    "$TD/state/bets.csv" | tr -d '\r' | paste -sd' ')"
	grep -q 'cant_ganadores: 1' "$TD/client-1.log" ||
	    bad "07574 not counted as a winner"
}

# u: a store and a close of its agency exclude each other across
# replicas.  Replica 1's write is held inside the filesystem, after it
# checked that agency 1 is open; replica 2's close of agency 1, sent
# meanwhile, must wait for that store (it is seen waiting in /proc/locks):
# the close is recorded after it, never between its check and its write,
# and stores after it are refused.
t_close_race() {
	local r pending i
	fs_setup 1 400 || return
	# The close waits for the lock as long as the test needs.
	replicas 2 1 LOCK_TIMEOUT=120s
	r=$(req "${PORT[1]}" "$(batch_of 1 0 10)")
	[ "$r" = StoreResponse:0 ] || bad "first batch: '$r'"
	faultfs_arm "$TD/ctl" "write hold pid ${SPID[srv1]} times 1"
	req "${PORT[1]}" "$(batch_of 1 10 10)" >"$TD/held.reply" &
	pending=$!
	PIDS+=($pending)
	faultfs_held "$TD/faultfs.log" write >/dev/null ||
	    { bad "the store's write was not held"; return; }
	grep -q 'faultfs: write /bets.csv: held' "$TD/faultfs.log" ||
	    bad "the held write is not of bets.csv"
	send_only "${PORT[2]}" AgencyClose:1
	# Replica 2's close is queued behind replica 1's lock.
	for ((i = 0; i < 600; i++)); do
		bets_lock_waited && break
		sleep 0.1
	done
	[ $i -lt 600 ] || bad "replica 2's close never waited for the lock"
	kill -0 $pending 2>/dev/null ||
	    bad "the held store was answered before its write went through"
	[ -s "$TD/back/agencies_closed.txt" ] &&
	    bad "the close was recorded while a store of the agency was" \
	    "between its check and its write"
	faultfs_arm "$TD/ctl"
	wait $pending
	[ "$(cat "$TD/held.reply")" = StoreResponse:0 ] ||
	    bad "held store: '$(cat "$TD/held.reply")'"
	wait_log "$TD/srv2.log" 'action: sorteo \| result: success' 10 ||
	    bad "no draw once the store was done"
	r=$(req "${PORT[1]}" "$(batch_of 1 20 10)")
	[ "$r" = StoreResponse:1 ] || bad "store after the close: '$r'"
	[ "$(lines "$TD/back/bets.csv")" -eq 20 ] ||
	    bad "bets.csv has $(lines "$TD/back/bets.csv") rows, want 20"
	sorteo_once
}

# u2: the replica that closes the last agency is killed after that close
# is written and synced and before it logs the draw.  It runs under gdb,
# stopped by a breakpoint on the log call whose action is "sorteo", and
# gdb kills it (SIGKILL) once the test has seen the close in the file and
# no draw line anywhere.  The other replica, asked for winners, must log
# the draw, and only once: a restarted replica does not log it again.
t_draw_kill() {
	local r i pid
	command -v gdb >/dev/null || { bad "no gdb (scripts/deps.sh)"; return; }
	replicas 1 3
	PORT[2]=$(free_port)
	server_conf "$TD/srv2.ini" "${PORT[2]}" "$TD/state" 3
	cat >"$TD/draw.gdb" <<-EOF
	set pagination off
	set confirm off
	handle all nostop noprint pass
	break log_event if \$_streq(action, "sorteo")
	commands
	printf "held before the draw line: %s\\n", action
	shell until [ -e "$TD/go" ]; do sleep 0.1; done
	kill
	quit
	end
	run -c "$TD/srv2.ini" >>"$TD/srv2.log" 2>&1
	EOF
	gdb -q -nx -batch -x "$TD/draw.gdb" "$BIN/server" >"$TD/gdb.log" 2>&1 &
	SPID[srv2]=$!
	PIDS+=($!)
	# The replica itself (gdb's child), so the cleanup kills it even if
	# gdb dies first; the Echo must come from it, not from a stranger
	# that took the port.
	for ((i = 0; i < 300; i++)); do
		pid=$(ps -o pid= --ppid "${SPID[srv2]}" | tr -d ' ')
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		    [ "$(req "${PORT[2]}" Echo:up 2>/dev/null)" = Echo:up ] &&
		    ! grep -q 'server: listen' "$TD/srv2.log" && break
		sleep 0.1
	done
	[ $i -lt 300 ] || { bad "replica 2 did not start under gdb" \
	    "($(tail -n 3 "$TD/gdb.log" "$TD/srv2.log" | tr '\n' ' '))"; return; }
	PIDS+=($pid)
	send_only "${PORT[1]}" AgencyClose:1 AgencyClose:2
	for ((i = 0; i < 100; i++)); do
		[ "$(req "${PORT[1]}" AgencyStatus:2)" = \
		    AgencyStatusResponse:0\;1 ] && break
		sleep 0.1
	done
	[ $i -lt 100 ] || bad "agency 2 not closed on replica 1"
	send_only "${PORT[2]}" AgencyClose:3
	wait_log "$TD/gdb.log" 'held before the draw line: sorteo' 30 ||
	    { bad "replica 2 never reached the draw's log line" \
	    "($(tail -n 3 "$TD/gdb.log" | tr '\n' ' '))"; return; }
	# The kill lands here: the last close is in the file (synced before
	# the line), no replica has logged the draw.
	[ "$(LC_ALL=C sort "$TD/state/agencies_closed.txt" | tr '\n' ' ')" = \
	    "1 2 3 " ] || bad "closed file at the kill:" \
	    "'$(tr '\n' ' ' <"$TD/state/agencies_closed.txt")', want 1 2 3"
	grep -q 'action: sorteo' "$TD"/srv*.log &&
	    bad "the draw was logged before the kill"
	touch "$TD/go"
	wait_pid "${SPID[srv2]}" 30 || bad "gdb did not kill replica 2"
	grep -q 'action: sorteo' "$TD"/srv*.log &&
	    bad "the killed replica logged the draw"
	r=$(req "${PORT[1]}" WinnersRequest:1)
	[ "$r" = WinnersResponse: ] || bad "winners after the kill: '$r'"
	grep -q 'action: sorteo | result: success' "$TD/srv1.log" ||
	    bad "replica 1 served the winners without logging the draw"
	sorteo_once
	[ -e "$TD/state/draw.logged" ] || bad "no draw.logged after the draw"
	PORT[3]=$(free_port)
	start_server srv3 "${PORT[3]}" "$TD/state" 3 ||
	    bad "replica 3 did not start"
	send_only "${PORT[3]}" AgencyClose:3
	r=$(req "${PORT[3]}" WinnersRequest:2 Echo:x)
	[ "$r" = $'WinnersResponse:\nEcho:x' ] || bad "replica 3: '$(echo $r)'"
	sorteo_once
}

# u3: a lottery reset (both files emptied, the replicas running) gets a
# draw line of its own: the draw.logged of the first draw does not
# silence the second.
t_draw_again() {
	local n
	replicas 2 2
	send_only "${PORT[1]}" AgencyClose:1 AgencyClose:2
	wait_log "$TD/srv1.log" 'action: sorteo \| result: success' 10 ||
	    bad "no first draw"
	[ -e "$TD/state/draw.logged" ] || bad "no draw.logged after the draw"
	: >"$TD/state/bets.csv"
	: >"$TD/state/agencies_closed.txt"
	[ "$(req "${PORT[2]}" WinnersRequest:1)" = NotReadyResponse: ] ||
	    bad "winners right after the reset"
	send_only "${PORT[2]}" AgencyClose:2 AgencyClose:1
	wait_log "$TD/srv2.log" 'action: sorteo \| result: success' 10 ||
	    bad "no draw logged after the reset"
	[ "$(req "${PORT[1]}" WinnersRequest:2)" = WinnersResponse: ] ||
	    bad "no winners after the second draw"
	n=$(cat "$TD"/srv*.log | grep -c 'action: sorteo | result: success')
	[ "$n" -eq 2 ] || bad "$n sorteo lines for two draws"
}

# v: a batch already in bets.csv (its writer may have died before its
# sync) is acknowledged only after a sync of its own: with fdatasync
# failing, the duplicate sent to the other replica gets no StoreResponse:0.
t_dup_sync() {
	local r rc
	fs_setup 1 400 || return
	replicas 2 1
	r=$(req "${PORT[1]}" "$(batch_of 1 0 10)")
	[ "$r" = StoreResponse:0 ] || bad "first batch: '$r'"
	faultfs_arm "$TD/ctl" "fdatasync EIO"
	r=$(req "${PORT[2]}" "$(batch_of 1 0 10)")
	[ "$r" != StoreResponse:0 ] ||
	    bad "a duplicate was acknowledged without a sync"
	grep -q 'faultfs: fdatasync /bets.csv' "$TD/faultfs.log" ||
	    bad "replica 2 never synced bets.csv for the duplicate"
	wait_pid "${SPID[srv2]}" 5
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] ||
	    bad "replica 2 status $rc after its sync failed, want an exit != 0"
}

# lotteryctl: its exit statuses, and winners agreeing with expected.txt.
t_ctl() {
	local c a want got closed
	c=$(tool lotteryctl) || { bad "no lotteryctl"; return; }
	ctl_rc() {
		local want=$1 rc
		shift
		"$c" -a "127.0.0.1:${PORT[1]}" "$@" >/dev/null 2>&1
		rc=$?
		[ $rc -eq "$want" ] || bad "lotteryctl $*: exit $rc, want $want"
	}
	gen 2 3000
	replicas 1 2
	ctl_rc 0 echo health
	ctl_rc 0 -b 127.0.0.2 echo other
	ctl_rc 1 status 9
	ctl_rc 4 winners 1
	ctl_rc 2 frobnicate
	ctl_rc 2 -t soon echo
	ctl_rc 2 status x
	closed=$(free_port)
	"$c" -a "127.0.0.1:$closed" echo >/dev/null 2>&1
	[ $? -eq 3 ] || bad "echo to closed port $closed: exit not 3"
	for a in 1 2; do
		start_client $a "${PORT[1]}" "$TD/data"
	done
	wait_clients 60 1 2
	for a in 1 2; do
		want=$(expected $a 4)
		[ "$want" = - ] && want=
		got=$("$c" -a "127.0.0.1:${PORT[1]}" winners $a | paste -sd';')
		[ "$got" = "$want" ] || bad "winners $a: '$got', want '$want'"
		got=$("$c" -a "127.0.0.1:${PORT[1]}" status $a)
		[ "$got" = "$(expected $a 2);1" ] || bad "status $a: '$got'"
	done
	ctl_rc 0 close 2
	ctl_rc 1 close 9
}

# w: three agencies with the default client (protocol auto) on replicas
# serving the base protocol only: each falls back to it, logs so, and
# every row is stored once; the draw and the winners work as usual.
t_base_fallback() {
	local a
	gen 3 5000
	replicas 3 3 PROTOCOL=base
	for a in 1 2 3; do
		start_client $a "${PORT[$a]}" "$TD/data"
	done
	wait_clients 120 1 2 3
	check_store 3
	check_winners "${PORT[1]}" 3
	for a in 1 2 3; do
		grep -q 'action: protocolo | result: success | modo: base' \
		    "$TD/client-$a.log" || bad "agency $a logged no fallback"
	done
	sorteo_once
}

# x: a PROTOCOL=base replica closes on every extension without a reply,
# and closes the connection after answering a base request.
t_base_strict() {
	local r p
	replicas 1 2 PROTOCOL=base
	for p in AgencyStatus:1 Echo:x WinnersPage:1:0 Foo:1 \
	    "StoreBatchAt:1:0:Ana;Paz;30000009;1990-01-01;1"; do
		r=$(req "${PORT[1]}" "$p")
		[ "$r" = "<closed>" ] || bad "'$p': '$r', want <closed>"
	done
	r=$(req "${PORT[1]}" "StoreBet:1;Ana;Paz;30000001;1990-01-01;1" \
	    "StoreBet:1;Bea;Paz;30000002;1990-01-01;2")
	[ "$r" = $'StoreResponse:0\n<closed>' ] ||
	    bad "StoreBet then another: '$(echo $r)'"
	r=$(req "${PORT[1]}" "StoreBatch:2:Cid;Paz;30000003;1990-01-01;3" \
	    WinnersRequest:2)
	[ "$r" = $'StoreResponse:0\n<closed>' ] ||
	    bad "StoreBatch then another: '$(echo $r)'"
	[ "$(cut -d, -f4 "$TD/state/bets.csv" 2>/dev/null | tr '\n' ' ')" = \
	    "30000001 30000003 " ] || bad "stored rows are not the two served"
	[ "$(grep -c 'motivo: not in the base protocol' "$TD/srv1.log")" \
	    -ge 5 ] || bad "the refused extensions were not all logged"
}

# y: CLI_PROTOCOL=extended never falls back: against a base replica it
# fails within retry_max attempts, cause logged.  CLI_PROTOCOL=base
# speaks only the base protocol, to a normal replica too, and completes.
t_protocol_setting() {
	local rc port
	gen 2 2000
	replicas 1 2 PROTOCOL=base
	start_client 1 "${PORT[1]}" "$TD/data" CLI_PROTOCOL=extended \
	    CLI_RETRY_MAX=4
	wait_pid "${CPID[1]}" 60
	rc=$?
	[ $rc -eq 1 ] || bad "extended against base: exit $rc, want 1"
	grep -qE 'action: reconnect \| result: fail \| intentos: 4 \| .*motivo: ' \
	    "$TD/client-1.log" || bad "extended: no give-up line with its cause"
	grep -q 'action: protocolo' "$TD/client-1.log" &&
	    bad "extended: fell back to the base protocol"
	[ "$(lines "$TD/state/bets.csv")" -eq 0 ] || bad "extended: rows stored"
	port=$(free_port)
	start_server srv2 "$port" "$TD/state2" 2 ||
	    bad "the extended replica did not start"
	send_only "$port" AgencyClose:1
	start_client 2 "$port" "$TD/data" CLI_PROTOCOL=base
	wait_clients 60 2
	grep -q 'action: protocolo | result: success | modo: base' \
	    "$TD/client-2.log" || bad "base: the mode was not logged"
	grep -qE 'estado_agencia|tipo: (AgencyStatus|WinnersPage)' \
	    "$TD/srv2.log" && bad "base: the client sent an extension"
	LC_ALL=C grep '^2,' "$TD/state2/bets.csv" 2>/dev/null | cut -d, -f2- |
	    cmp -s - "$TD/data/agency-2.csv" ||
	    bad "base: agency 2 not stored exactly once in file order"
	grep -q "cant_ganadores: $(expected 2 3)\$" "$TD/client-2.log" ||
	    bad "base: winner count not logged"
}

# z: a slow upload (one bet a batch) logs in_progress lines with its
# counts; killed and rerun, its summary tells the bets stored in this run
# from those found already stored, and they add up to the valid rows.
# The replica is held inside its 300th sync (faultfs) while a progress
# interval (3 s) passes; the held batch's reply then brings the line, and
# the client is killed with the next-but-one batch held: mid-upload.
t_progress() {
	local line stored skipped
	fs_setup 1 40000 || return
	replicas 1 1
	faultfs_arm "$TD/ctl" "fdatasync hold after 300"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_BATCH_MAXAMOUNT=1 \
	    CLI_BATCH_WINDOW=1
	faultfs_held "$TD/faultfs.log" fdatasync >/dev/null ||
	    { bad "the replica never reached its 300th sync"; return; }
	# Not a race: the line is due once this much time has passed.
	sleep 3.2
	faultfs_arm "$TD/ctl" "fdatasync hold after 2"
	faultfs_held "$TD/faultfs.log" fdatasync 2 >/dev/null ||
	    { bad "the replica never reached the second hold"; return; }
	grep -q 'action: carga | result: in_progress' "$TD/client-1.log" ||
	    bad "no in_progress line"
	kill -9 "${CPID[1]}"
	wait "${CPID[1]}" 2>/dev/null
	faultfs_arm "$TD/ctl"
	grep -qE 'action: carga \| result: in_progress \| enviadas: [1-9][0-9]* \| total: 40000 \| apuestas_por_segundo: [1-9][0-9]*$' \
	    "$TD/client-1.log" || bad "in_progress line without its fields" \
	    "($(grep -m1 in_progress "$TD/client-1.log"))"
	mid_upload "${PORT[1]}" 1 || bad "agency 1 not mid-upload at the kill"
	start_client 1 "${PORT[1]}" "$TD/data"
	wait_clients 60 1
	line=$(grep 'action: carga_finalizada' "$TD/client-1.log" | tail -n 1)
	stored=$(echo "$line" | grep -o ' almacenadas: [0-9]*' | cut -d' ' -f3)
	skipped=$(echo "$line" | grep -o 'ya_almacenadas: [0-9]*' | cut -d' ' -f2)
	echo "$line" | grep -q 'rechazadas: 0' || bad "summary: '$line'"
	[ -n "$stored" ] && [ -n "$skipped" ] && [ "$skipped" -gt 0 ] &&
	    [ $((stored + skipped)) -eq 40000 ] ||
	    bad "summary '$line': want ya_almacenadas > 0, sum 40000"
	check_store 1
}

# ---- agency authentication (AGENCY_KEYS, docs/security.md) ----

# auth_keys AGENCIES: keys for agencies 1..AGENCIES in $TD/keys; from now
# on the helpers that act for an agency authenticate as it.
auth_keys() {
	scripts/keys.sh ensure "$TD/keys" "$1" >/dev/null || bad "keys.sh failed"
	KEYS=$TD/keys
}

# as_agency PORT AGENCY ARG...: lotteryctl against REQ_HOST:PORT (default
# 127.0.0.1), authenticated as AGENCY when auth_keys was called.
as_agency() {
	local addr=${REQ_HOST:-127.0.0.1}:$1 a=$2
	shift 2
	if [ -n "${KEYS:-}" ]; then
		ctl -a "$addr" -i "$a" -k "$KEYS/agency-$a.key" "$@"
	else
		ctl -a "$addr" "$@"
	fi
}

# snapshot NAME: copy the state files to $TD/NAME, for byte comparisons.
snapshot() {
	mkdir -p "$TD/$1"
	cp "$TD/state/bets.csv" "$TD/state/agencies_closed.txt" "$TD/$1/" \
	    2>/dev/null
	ls "$TD/$1" >"$TD/$1.list"
}

# same_state NAME: the state files are byte for byte as at snapshot NAME.
same_state() {
	local f
	snapshot now
	cmp -s "$TD/$1.list" "$TD/now.list" || bad "state files came or went"
	for f in $(cat "$TD/$1.list"); do
		cmp -s "$TD/$1/$f" "$TD/now/$f" || bad "$f changed"
	done
}

# forge PORT [ctl options]: every request acting for agency 2 on one
# connection (not as agency 2), AgencyClose:2 on another; each reply must
# be StoreResponse:1.
forge() {
	local port=$1 b="Eve;Mal;99999999;1990-01-01;7574" r n
	shift
	r=$(ctl -a "127.0.0.1:$port" "$@" send "StoreBatchAt:2:10:$b" \
	    "StoreBatch:2:$b" "StoreBet:2;$b" "AgencyStatus:2" \
	    "WinnersRequest:2" "WinnersPage:2:0" "WinnersWait:2:0:0" \
	    Echo:still-open)
	n=$(grep -c '^StoreResponse:1$' <<<"$r")
	[ "$n" -eq 7 ] && [ "$(tail -n 1 <<<"$r")" = Echo:still-open ] ||
	    bad "forged requests ($*) on $port: '$(echo $r)', want 7 refusals"
	ctl -a "127.0.0.1:$port" "$@" post AgencyClose:2 ||
	    bad "could not send the forged close"
}

# a1: with AGENCY_KEYS, stores, closes, status and winners for agency 2
# are refused unauthenticated and as agency 1, and change no byte; the
# refused close does not count toward the draw.
t_auth_forged() {
	local p r n
	gen 2 100
	auth_keys 2
	replicas 2 2 AGENCY_KEYS="$KEYS/agencies.keys"
	r=$(as_agency "${PORT[1]}" 2 send "$(batch_of 2 0 10)")
	[ "$r" = StoreResponse:0 ] || bad "agency 2's own batch: '$r'"
	snapshot before
	for p in "${PORT[1]}" "${PORT[2]}"; do
		forge "$p"
		forge "$p" -i 1 -k "$KEYS/agency-1.key"
	done
	# The closes get no reply: each replica is done with both once it
	# has logged both refusals.
	for p in 1 2; do
		for ((n = 0; n < 300; n++)); do
			[ "$(grep -c 'action: auth | result: fail | .* | tipo: AgencyClose | agencia: 2 | motivo: ' \
			    "$TD/srv$p.log")" -ge 2 ] && break
			sleep 0.1
		done
		[ $n -lt 300 ] || bad "replica $p did not refuse both forged closes"
	done
	same_state before
	for p in 1 2; do
		grep -q 'action: auth | result: fail | .* | tipo: AgencyClose | agencia: 2 | motivo: not authenticated' \
		    "$TD/srv$p.log" || bad "replica $p logged no refused close"
		grep -q 'action: auth | result: fail | .* | tipo: StoreBatchAt | agencia: 2 | motivo: authenticated as agency 1' \
		    "$TD/srv$p.log" || bad "replica $p logged no refused store"
		grep -q 'action: auth | result: fail | .* | tipo: WinnersWait | agencia: 2 | motivo: not authenticated' \
		    "$TD/srv$p.log" || bad "replica $p logged no refused WinnersWait"
	done
	as_agency "${PORT[1]}" 1 close 1 >/dev/null || bad "agency 1's close"
	r=$(as_agency "${PORT[2]}" 2 status 2)
	[ "$r" = "10;0" ] || bad "agency 2 status '$r', want 10;0"
	grep -q 'action: sorteo' "$TD"/srv*.log &&
	    bad "a draw with agency 2 still open"
	as_agency "${PORT[2]}" 2 close 2 >/dev/null || bad "agency 2's close"
	sorteo_once
}

# a2: a captured handshake replayed on a new connection fails, and that
# connection can act for nobody.
t_auth_replay() {
	local r proof
	auth_keys 2
	replicas 1 2 AGENCY_KEYS="$KEYS/agencies.keys"
	as_agency "${PORT[1]}" 1 auth >"$TD/exchange" || bad "handshake failed"
	proof=$(grep '^AuthProof:' "$TD/exchange")
	[ ${#proof} -eq 74 ] || bad "no proof captured: '$proof'"
	snapshot before
	r=$(req "${PORT[1]}" AuthHello:1 "$proof" AgencyClose:1 AgencyStatus:1)
	[ "$(sed -n 1p <<<"$r" | cut -c1-14)" = AuthChallenge: ] &&
	    [ "$(sed -n 2p <<<"$r")" = AuthRefused:wrong_key ] &&
	    [ "$(sed -n 3p <<<"$r")" = "<closed>" ] ||
	    bad "replayed proof: '$(echo $r)'"
	r=$(req "${PORT[1]}" "$proof")
	[ "$r" = StoreResponse:1 ] || bad "proof without a hello: '$r'"
	same_state before
	grep -q 'action: auth | result: fail | .* | agencia: 1 | motivo: wrong proof' \
	    "$TD/srv1.log" || bad "no wrong-proof line"
}

# a3: a wrong key fails the client at once (exit 1, nothing stored); an
# address that keeps failing for an agency is made to wait (BusyResponse),
# while an agency at another address goes on unhindered.
t_auth_wrong_key() {
	local r i refused=0
	gen 2 300
	auth_keys 2
	replicas 1 2 AGENCY_KEYS="$KEYS/agencies.keys"
	start_client 1 "${PORT[1]}" "$TD/data" CLI_KEY_FILE="$KEYS/agency-2.key"
	wait_pid "${CPID[1]}" 20
	r=$?
	[ $r -eq 1 ] || bad "client with agency 2's key exited $r, want 1"
	grep -q 'action: auth | result: fail | agencia: 1 | motivo: key refused' \
	    "$TD/client-1.log" || bad "client logged no key refusal"
	[ "$(lines "$TD/state/bets.csv" 2>/dev/null || echo 0)" -eq 0 ] ||
	    bad "bets stored with a wrong key"
	# Wrong proofs until a hello is answered Busy: however slow the
	# machine, failures accrue until one lands inside a wait.
	for ((i = 0; i < 20; i++)); do
		ctl -b 127.0.0.3 -a "127.0.0.1:${PORT[1]}" -i 2 \
		    -k "$KEYS/agency-1.key" status 2 >/dev/null
		r=$(ctl -b 127.0.0.3 -a "127.0.0.1:${PORT[1]}" send AuthHello:2)
		[[ "$r" =~ ^BusyResponse:[1-9][0-9]*$ ]] && break
	done
	[ $i -lt 20 ] || bad "hello from a failing address: '$r'"
	[ $i -ge 3 ] ||
	    bad "made to wait after $((i + 1)) failures, 3 are free"
	grep -q 'motivo: too many failed handshakes from this address' \
	    "$TD/srv1.log" || bad "repeated failures were not slowed down"
	grep -q 'action: exit | result: fail | code: 1' "$TD/client-1.log" ||
	    bad "the failed client did not log its exit as failed"
	start_client 2 "${PORT[1]}" "$TD/data" CLI_KEY_FILE="$KEYS/agency-2.key"
	wait_lines "$TD/state/bets.csv" "$(expected 2 2)" 30 ||
	    bad "agency 2 did not store its bets"
	as_agency "${PORT[1]}" 1 close 1 >/dev/null || bad "agency 1's close"
	wait_clients 30 2
	r=$(as_agency "${PORT[1]}" 2 status 2)
	[ "$r" = "$(expected 2 2);1" ] || bad "agency 2 status '$r'"
}

# a4: a key file that is not private, has a bad line, a duplicate or lacks
# an agency stops the replica with the file and line named; so does a
# client key file that is not private.
t_auth_key_file() {
	local out rc
	auth_keys 3
	server_conf "$TD/s.ini" "$(free_port)" "$TD/state" 3
	try_keys() {
		AGENCY_KEYS=$1 timeout 5 "$BIN/server" -n -c "$TD/s.ini" \
		    >"$TD/out" 2>&1
		rc=$?
		[ $rc -ne 0 ] || bad "server accepted $2"
		grep -q -- "$3" "$TD/out" ||
		    bad "$2: '$(grep -v 'action: config' "$TD/out" | tail -n 1)'," \
		    "want '$3'"
	}
	AGENCY_KEYS=$KEYS/agencies.keys "$BIN/server" -n -c "$TD/s.ini" \
	    >"$TD/out" 2>&1 || bad "good key file refused: $(tail -n 1 "$TD/out")"
	cp "$KEYS/agencies.keys" "$TD/k"
	chmod 644 "$TD/k"
	try_keys "$TD/k" "a world-readable file" "$TD/k: mode 0644"
	chmod 640 "$TD/k"
	try_keys "$TD/k" "a group-readable file" "$TD/k: mode 0640"
	chmod 600 "$TD/k"
	sed -i '3s/$/0/' "$TD/k"
	try_keys "$TD/k" "a bad line" "$TD/k:3: agency 3: the key is not 64"
	sed -n 1p "$KEYS/agencies.keys" >"$TD/k"
	sed -n 1,2p "$KEYS/agencies.keys" >>"$TD/k"
	try_keys "$TD/k" "a duplicate" "$TD/k:2: agency 1 appears twice"
	sed -n 1,2p "$KEYS/agencies.keys" >"$TD/k"
	try_keys "$TD/k" "a missing agency" "no line for agency 3"
	try_keys "$TD/nonexistent" "a missing file" "No such file"
	PROTOCOL=base try_keys "$KEYS/agencies.keys" "keys with PROTOCOL=base" \
	    "AGENCY_KEYS needs PROTOCOL=extended"
	client_conf "$TD/c.yaml" 1 "127.0.0.1:1" "$TD/data"
	cp "$KEYS/agency-1.key" "$TD/ck"
	chmod 644 "$TD/ck"
	CLI_KEY_FILE=$TD/ck timeout 5 "$BIN/client" -c "$TD/c.yaml" \
	    >"$TD/out" 2>&1 && bad "client accepted a world-readable key"
	grep -q "key_file: $TD/ck: mode 0644" "$TD/out" ||
	    bad "client key error: '$(tail -n 1 "$TD/out")'"
}

# a5: five authenticated agencies on three replicas finish exactly while
# a forger, from another address, hammers every replica with forged
# requests and wrong keys.
t_auth_cluster() {
	local a p forger
	gen 5 20000
	auth_keys 5
	replicas 3 5 AGENCY_KEYS="$KEYS/agencies.keys"
	(
		b="Eve;Mal;99999999;1990-01-01;7574"
		f() { ctl -t 2 -b 127.0.0.2 -a "127.0.0.1:$p" "$@" >/dev/null; }
		while :; do
			for p in "${PORT[@]}"; do
				f send "StoreBatchAt:3:0:$b" WinnersRequest:1 \
				    AgencyStatus:4
				f post AgencyClose:4
				f -i 5 -k "$KEYS/agency-1.key" status 5
				f -i 1 -k "$KEYS/agency-1.key" send \
				    "StoreBatchAt:2:0:$b"
				f -i 1 -k "$KEYS/agency-1.key" post AgencyClose:2
			done
		done
	) &
	forger=$!
	PIDS+=($forger)
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data" \
		    CLI_KEY_FILE="$KEYS/agency-$a.key"
	done
	wait_clients 120 1 2 3 4 5
	# Quick agencies may finish before the forger's first wrong key: let
	# it reach that step (replica 1 gets it first) before stopping it.
	wait_log "$TD/srv1.log" 'motivo: wrong proof' 60
	kill "$forger" 2>/dev/null
	wait "$forger" 2>/dev/null
	check_store 5
	check_winners "${PORT[1]}" 5
	sorteo_once
	grep -q 'tipo: AgencyClose | agencia: 4 | motivo: not authenticated' \
	    "$TD"/srv*.log || bad "the forger's closes were never refused"
	grep -q 'motivo: wrong proof' "$TD"/srv*.log ||
	    bad "the forger's wrong keys were never refused"
}

# a6: without AGENCY_KEYS a replica says once that agencies are not
# authenticated, refuses AuthHello, and base-protocol clients work.
t_auth_off() {
	local a n r
	gen 2 2000
	replicas 1 2
	n=$(grep -c 'WARNING action: auth | result: success | modo: off' \
	    "$TD/srv1.log")
	[ "$n" -eq 1 ] || bad "$n 'agencies are not authenticated' lines, want 1"
	r=$(req "${PORT[1]}" AuthHello:1)
	[ "$r" = AuthRefused:not_configured ] ||
	    bad "AuthHello without keys: '$r'"
	for a in 1 2; do
		start_client $a "${PORT[1]}" "$TD/data" CLI_PROTOCOL=base
	done
	wait_clients 60 1 2
	check_store 2
	check_winners "${PORT[1]}" 2
}

# a7: an agency with a key against a replica without AGENCY_KEYS stops at
# the first handshake (exit 1), saying authentication is not configured
# there; so does an agency whose line says revoked.  Neither retries.
t_auth_refused() {
	local r
	gen 2 100
	auth_keys 2
	replicas 1 2
	start_client 1 "${PORT[1]}" "$TD/data" CLI_KEY_FILE="$KEYS/agency-1.key"
	wait_pid "${CPID[1]}" 30
	r=$?
	[ $r -eq 1 ] || bad "client against a replica without keys exited $r"
	grep -q 'action: auth | result: fail | agencia: 1 | motivo: authentication not configured on this server' \
	    "$TD/client-1.log" || bad "the client did not say why"
	[ "$(grep -c 'action: auth | result: fail' "$TD/client-1.log")" -eq 1 ] ||
	    bad "the client tried the handshake more than once"
	grep -q 'action: exit | result: fail | code: 1' "$TD/client-1.log" ||
	    bad "exit 1 not logged as a failure"
	r=$("$(tool lotteryctl)" -a "127.0.0.1:${PORT[1]}" -i 1 \
	    -k "$KEYS/agency-1.key" status 1 2>&1)
	[ $? -eq 1 ] && [[ "$r" == *"handshake refused for good: not_configured"* ]] ||
	    bad "lotteryctl on a replica without keys: '$r'"
	lib_cleanup
	sed 's/^2 .*/2 revoked/' "$KEYS/agencies.keys" >"$TD/revoked.keys"
	chmod 600 "$TD/revoked.keys"
	replicas 1 2 AGENCY_KEYS="$TD/revoked.keys"
	start_client 2 "${PORT[1]}" "$TD/data" CLI_KEY_FILE="$KEYS/agency-2.key"
	wait_pid "${CPID[2]}" 30
	r=$?
	[ $r -eq 1 ] || bad "revoked agency's client exited $r, want 1"
	grep -q 'action: auth | result: fail | agencia: 2 | motivo: agency revoked' \
	    "$TD/client-2.log" || bad "the revoked client did not say why"
	[ "$(lines "$TD/state/bets.csv" 2>/dev/null || echo 0)" -eq 0 ] ||
	    bad "bets stored by a revoked agency"
}

# a8: a forger sending wrong proofs for agency 3 from 127.0.0.1, until it
# is made to wait seconds, slows neither agency 1 nor agency 2 at that
# address.  One connection proves it: agency 3's hello is answered Busy
# before and after those of 1 and 2, which get their challenges.
t_auth_forger_other_agency() {
	local i r ms=0
	gen 3 2000
	auth_keys 3
	replicas 1 3 AGENCY_KEYS="$KEYS/agencies.keys"
	# The pause only paces the forger past each wait; nothing hangs on
	# its length.
	for ((i = 0; i < 60 && ms < 2000; i++)); do
		r=$(ctl -a "127.0.0.1:${PORT[1]}" send AuthHello:3)
		if [[ "$r" =~ ^BusyResponse:([0-9]+)$ ]]; then
			ms=${BASH_REMATCH[1]}
			sleep 0.3
			continue
		fi
		ctl -a "127.0.0.1:${PORT[1]}" -i 3 -k "$KEYS/agency-1.key" \
		    status 3 >/dev/null 2>&1
	done
	[ "$ms" -ge 2000 ] || bad "agency 3's wrong proofs never made it wait"
	r=$(ctl -a "127.0.0.1:${PORT[1]}" send AuthHello:3 AuthHello:1 \
	    AuthHello:2 AuthHello:3 | cut -d: -f1 | paste -sd' ')
	[ "$r" = "BusyResponse AuthChallenge AuthChallenge BusyResponse" ] ||
	    bad "hellos 3 1 2 3 from the forger's address: '$r'"
	# lotteryctl says busy, with its own exit status, even with the key.
	r=$("$(tool lotteryctl)" -a "127.0.0.1:${PORT[1]}" -i 3 \
	    -k "$KEYS/agency-3.key" status 3 2>&1)
	i=$?
	[ $i -eq 5 ] && [[ "$r" == *"busy: the replica asks to retry in"* ]] ||
	    bad "lotteryctl on a busy handshake: exit $i, '$r'"
	for i in 1 2; do
		start_client $i "${PORT[1]}" "$TD/data" \
		    CLI_KEY_FILE="$KEYS/agency-$i.key"
	done
	# Agency 3 closes from another address, for the draw.
	ctl -b 127.0.0.2 -a "127.0.0.1:${PORT[1]}" -i 3 \
	    -k "$KEYS/agency-3.key" close 3 >/dev/null || bad "agency 3's close"
	wait_clients 60 1 2
	for i in 1 2; do
		grep -q 'motivo: replica busy' "$TD/client-$i.log" &&
		    bad "agency $i was made to wait"
	done
	r=$(as_agency "${PORT[1]}" 1 status 1)
	[ "$r" = "$(expected 1 2);1" ] || bad "agency 1 status '$r'"
	r=$(as_agency "${PORT[1]}" 2 status 2)
	[ "$r" = "$(expected 2 2);1" ] || bad "agency 2 status '$r'"
}

# status_from PORT AGENCY: the agency's stored count, asked from
# 127.0.0.2 (the agencies' address may be at its connection cap).
status_from() {
	local r
	r=$(req_from 127.0.0.2 "$1" "AgencyStatus:$2")
	r=${r#AgencyStatusResponse:}
	echo "${r%;*}"
}

# a9: the default client (protocol auto) against three replicas whose
# connection slots for the agencies' address are all taken at start: each
# agency is turned away (proved: every one logs a failure and nothing is
# stored while the slots are held), then the slots are freed; replicas 1
# and 2 are killed and restarted during the upload, each kill proved to
# land mid-upload (an agency of that replica had bets stored at the kill
# and stores the rest after).  No agency falls back to the base protocol,
# and every bet is stored exactly once.
t_auto_full_start() {
	local a i n s=() holders=() mid=()
	gen 5 100000
	replicas 3 5 MAX_CONNECTIONS_PER_PEER=3 CONN_TIMEOUT=300s
	for i in 1 2 3; do
		hold "${PORT[$i]}" 300 3
		holders+=($!)
	done
	for i in 1 2 3; do
		req "${PORT[$i]}" Echo:full >/dev/null
		wait_log "$TD/srv$i.log" 'motivo: too many connections from' 10 ||
		    bad "replica $i's slots for 127.0.0.1 are not full"
	done
	# One batch at a time, so the kills find the agencies mid-upload.
	for a in 1 2 3 4 5; do
		start_client $a "${PORT[$(((a - 1) % 3 + 1))]}" "$TD/data" \
		    CLI_BATCH_MAXAMOUNT=10 CLI_BATCH_WINDOW=1
	done
	for a in 1 2 3 4 5; do
		wait_log "$TD/client-$a.log" 'result: fail' 30 ||
		    bad "agency $a was never turned away"
	done
	[ "$(lines "$TD/state/bets.csv" 2>/dev/null || echo 0)" -eq 0 ] ||
	    bad "bets stored while every slot was held"
	kill "${holders[@]}" 2>/dev/null
	wait_lines "$TD/state/bets.csv" 3000 60 || bad "upload did not start"
	for i in 1 2; do
		kill -9 "${SPID[srv$i]}"
		wait "${SPID[srv$i]}" 2>/dev/null
	done
	# Their agencies reach no other replica: what they hold now is what
	# the kills left.
	for i in 1 2; do
		mid[$i]=0
		for a in $i $((i + 3)); do
			n=$(status_from "${PORT[3]}" $a)
			if [ "$n" -gt 0 ] && [ "$n" -lt "$(expected $a 2)" ]; then
				mid[$i]=$a
				s[$i]=$n
				break
			fi
		done
		[ "${mid[$i]}" -ne 0 ] ||
		    bad "replica $i killed with no agency mid-upload"
	done
	for i in 1 2; do
		start_server srv$i "${PORT[$i]}" "$TD/state" 5 \
		    MAX_CONNECTIONS_PER_PEER=3 CONN_TIMEOUT=300s ||
		    bad "replica $i did not restart on its port"
	done
	for i in 1 2; do
		[ "${mid[$i]}" -ne 0 ] || continue
		for ((n = 0; n < 300; n++)); do
			[ "$(status_from "${PORT[3]}" "${mid[$i]}")" -gt \
			    "${s[$i]}" ] && break
			sleep 0.1
		done
		[ $n -lt 300 ] || bad "agency ${mid[$i]} stored nothing after" \
		    "replica $i restarted"
	done
	wait_clients 180 1 2 3 4 5
	check_store 5
	for a in 1 2 3 4 5; do
		grep -q 'modo: base' "$TD/client-$a.log" &&
		    bad "agency $a fell back to the base protocol"
	done
	check_winners "${PORT[3]}" 5
	sorteo_once
}

echo "host: binaries in $BIN, SEED=$SEED, logs in $ROOT"
for t in ${*:-$TESTS}; do
	if (
		TD=$ROOT/$t
		mkdir -p "$TD"
		tsan_logs "$TD"
		trap lib_cleanup EXIT
		trap 'exit 130' INT TERM HUP
		"t_$t"
		lib_cleanup
		s=$(sanitizer_reports "$TD") && bad "sanitizer report in $s"
		grep -qs " $TD/" /proc/mounts && bad "a mount under $TD is left"
		[ ! -s "$TD/.fail" ]
	); then
		if [ -s "$ROOT/$t/.skip" ]; then
			echo "SKIP $t: $(cat "$ROOT/$t/.skip")"
			continue
		fi
		pass "$t"
	else
		fail "$t: $(paste -sd';' "$ROOT/$t/.fail" 2>/dev/null)"
	fi
done
# Figures some tests measure (times, peak memory), for the record.
[ -s "$ROOT/figures" ] && sed 's/^/host: figure: /' "$ROOT/figures"
if [ $failed -eq 0 ] && [ -z "${KEEP:-}" ]; then
	rm -rf "$ROOT"
else
	echo "host: logs kept in $ROOT"
fi
tally host
