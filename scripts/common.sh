# common.sh: the few shell helpers both the host-level scripts (through
# lib.sh) and the Docker scripts (through docker-lib.sh) use: counting a
# file's lines, waiting for a file to grow, and tallying named checks.
# Sourced, not run; bash.

passed=0
failed=0

# lines FILE: line count, 0 when the file does not exist.
lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# wait_lines FILE N SECONDS: wait until FILE has at least N lines; 1 when
# it does not within SECONDS.
wait_lines() {
	local n=$(($3 * 20))
	while [ "$(lines "$1")" -lt "$2" ] && [ $n -gt 0 ]; do
		sleep 0.05
		n=$((n - 1))
	done
	[ "$(lines "$1")" -ge "$2" ]
}

# pass TEXT... / fail TEXT...: print "PASS TEXT" or "FAIL TEXT" and count
# it.
pass() {
	echo "PASS $*"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}

# check NAME CMD...: pass or fail NAME by the status of CMD.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# tally LABEL: print "LABEL: N passed, M failed"; 0 when none failed.
tally() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
